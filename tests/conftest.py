"""Shared fixtures: a real Elasticsearch, a real SQL database, and the app built from settings."""
from __future__ import annotations

import os
import uuid
from dataclasses import replace

import pytest
from elasticsearch import Elasticsearch
from falcon import testing
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from settings import Settings
from tests.es_node import LaunchedNode, elasticsearch_for_tests

ADMIN_TOKEN = "test-admin-token"


@pytest.fixture(scope="session")
def elasticsearch_url(tmp_path_factory) -> str:
    with elasticsearch_for_tests(tmp_path_factory.mktemp("elasticsearch")) as url:
        yield url


@pytest.fixture(scope="session")
def es(elasticsearch_url) -> Elasticsearch:
    client = Elasticsearch(elasticsearch_url, request_timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="module")
def own_node(tmp_path_factory):
    """A node of the test module's own, which its tests may stop and restart without disturbing others."""
    node = LaunchedNode(tmp_path_factory.mktemp("own-node"))
    node.start()
    yield node
    node.stop()


@pytest.fixture
def log_prefix(es) -> str:
    """A log index prefix of this test's own; its indices and templates are removed afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    # Deleted by name: clusters refuse wildcard deletes unless action.destructive_requires_name is off.
    names = list(es.indices.get(index=f"{prefix}*", expand_wildcards="all"))
    for start in range(0, len(names), 50):  # in chunks: a URL has a length limit
        es.indices.delete(index=",".join(names[start:start + 50]))
    templates = es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}*")
    for template in templates.get("index_templates", []):
        es.indices.delete_index_template(name=template["name"])


@pytest.fixture
def database_url(tmp_path) -> str:
    """DATABASE_URL's server with a fresh schema for this test (PostgreSQL), else a new SQLite file."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def settings(tmp_path, database_url, elasticsearch_url, log_prefix) -> Settings:
    from jobs.db import make_engine, upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        elasticsearch_url=elasticsearch_url,
        log_index_prefix=log_prefix,
        legacy_log_indices=(f"{log_prefix}-legacy-*",),
        api_token=ADMIN_TOKEN,
        spool_dir=tmp_path / "spool",
    )


@pytest.fixture
def store(settings):
    """A JobStore on this test's database (the real clock)."""
    from api.clock import utcnow
    from jobs.db import make_engine
    from jobs.store import JobStore

    engine = make_engine(settings.database_url)
    yield JobStore(engine, utcnow)
    engine.dispose()


@pytest.fixture
def make_client(settings):
    """Build the app with (optionally changed) settings; tests never patch."""
    from api.app import create_app

    def build(clock=None, **changes) -> testing.TestClient:
        kwargs = {"clock": clock} if clock else {}
        return testing.TestClient(create_app(replace(settings, **changes), **kwargs))

    return build


@pytest.fixture
def client(make_client) -> testing.TestClient:
    return make_client()


@pytest.fixture
def auth() -> dict:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def pytest_addoption(parser) -> None:
    # Registered here, at the root, so `make test PYTEST_ARGS=--long` works too.
    parser.addoption("--long", action="store_true", default=False,
                     help="reliability suite: long variants (5-minute soak, more fuzzing, more lines)")


def pytest_report_header(config) -> list[str]:
    return [f"DATABASE_URL: {os.environ.get('DATABASE_URL', '(SQLite per test)')}",
            f"ELASTICSEARCH_URL: {os.environ.get('ELASTICSEARCH_URL', '(testcontainers or launcher)')}"]

