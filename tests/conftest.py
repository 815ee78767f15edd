"""Shared fixtures: a real Elasticsearch, a real SQL database, the stores, and the app built from settings.

Tiers: a test that needs Elasticsearch (through any fixture) is marked `es`, one that needs a secured node
(x-pack security: the suite's node with ES_SECURITY=1, else one of its own) `secured` as well, one that needs
PostgreSQL `postgres`, every test of tests/reliability `reliability`, and every test of tests/kubernetes
`kubernetes` (those run only when -m names kubernetes); `pytest -m "not es"` runs without a node.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import uuid
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from falcon import testing
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.services import Services, build_services
from core.elastic import describe, elasticsearch_client
from core.logs import configure_logging
from core.times import Clock, utcnow
from jobs.stores import Stores
from settings import ConfigurationError, Settings
from tests import live_api
from tests.es_node import Connection, LaunchedNode, connection_of, elasticsearch_for_tests
from tests.factories import ReferenceData, manifest
from tests.migrated import MigratedTemplates

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"

# DATABASE_URL reaches a test only through the database_url fixture: taken out of this process's environment here,
# so no subprocess inherits it and no Settings.from_env finds it. A test without that fixture therefore runs exactly
# as it does on SQLite, whatever DATABASE_URL says: it is sql_free (pytest_collection_modifyitems), and the
# PostgreSQL run of CI leaves it out.
DATABASE_URL = os.environ.pop("DATABASE_URL", None) or None


ES_SEEN = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def elasticsearch_connection(tmp_path_factory, request) -> Connection:
    """The suite's cluster: its URL and, when secured (ES_SECURITY=1), the service's API key, the CA and the
    admin credentials (tests/es_node.py)."""
    with elasticsearch_for_tests(tmp_path_factory.mktemp("elasticsearch")) as connection:
        admin = connection.admin(request_timeout=60)
        version = admin.info()["version"]["number"]
        admin.close()
        secured = "secured" if connection.url.startswith("https:") else "unsecured"
        if connection.api_key:
            secured += ", the service with an API key"
        request.config.stash[ES_SEEN] = f"Elasticsearch {version} ({secured})"
        yield connection


@pytest.fixture(scope="session")
def elasticsearch_url(elasticsearch_connection) -> str:
    return elasticsearch_connection.url


@pytest.fixture(scope="session")
def es(elasticsearch_connection) -> Elasticsearch:
    """The tests' own client with every right (setup, cleanup, checks); the product uses `service_es`."""
    client = elasticsearch_connection.admin(request_timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="session")
def service_es(elasticsearch_connection, tmp_path_factory) -> Elasticsearch:
    """The product's client (core.elastic.elasticsearch_client) with the service's credentials: on a secured
    node, an API key holding only the writer and reader roles."""
    service = Settings(
        data_dir=tmp_path_factory.mktemp("service"), database_url="", **elasticsearch_connection.settings_changes()
    )
    client = elasticsearch_client(service, patient=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def secured_connection(elasticsearch_connection, tmp_path_factory) -> Connection:
    """A secured node (x-pack security, HTTPS with its own CA): the suite's own when ES_SECURITY=1, else one
    started for the tests that need it (marked `secured`)."""
    if elasticsearch_connection.api_key and elasticsearch_connection.admin_auth:
        yield elasticsearch_connection
        return
    node = LaunchedNode(tmp_path_factory.mktemp("secured-node"), security=True)
    node.start()
    assert node.connection is not None
    yield node.connection
    node.stop()


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
    remove_log_indices(es, prefix)


def remove_log_indices(es: Elasticsearch, prefix: str) -> None:
    """Every index and index template under prefix."""
    # Deleted by name: clusters refuse wildcard deletes unless action.destructive_requires_name is off.
    names = list(es.indices.get(index=f"{prefix}*", expand_wildcards="all"))
    for start in range(0, len(names), 50):  # in chunks: a URL has a length limit
        es.indices.delete(index=",".join(names[start : start + 50]))
    templates = es.options(ignore_status=404).indices.get_index_template(name=f"{prefix}*")
    for template in templates.get("index_templates", []):
        es.indices.delete_index_template(name=template["name"])


@pytest.fixture
def log_stream():
    """The service's logging configured onto a buffer (as api/wsgi.py does onto stderr); restored after.
    Its JSON lines hold each record's `extra` fields, which caplog's messages do not show."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()

    def configure(level: str = "INFO", fmt: str = "json") -> io.StringIO:
        configure_logging(level, fmt, stream)
        return stream

    yield configure
    root.handlers, root.level = saved[0], saved[1]


def request_lines(stream: io.StringIO) -> list[dict]:
    """The request log's JSON lines in what log_stream captured."""
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["logger"] == "api.requests"]


@pytest.fixture
def database_url(tmp_path) -> str:
    """DATABASE_URL's server with a fresh schema for this test (PostgreSQL), else a new SQLite file."""
    base = DATABASE_URL
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


@pytest.fixture(scope="session")
def migrated(tmp_path_factory) -> MigratedTemplates:
    """Each test's database is a copy of one migrated once per session (tests/migrated.py says how and why)."""
    return MigratedTemplates(tmp_path_factory.mktemp("migrated"))


@pytest.fixture
def sql_settings(tmp_path, database_url, migrated) -> Settings:
    """Settings of this test's migrated database, without Elasticsearch."""
    migrated.migrate(database_url)
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        elasticsearch_url=None,
        api_token=ADMIN_TOKEN,
        spool_dir=tmp_path / "spool",
    )


@pytest.fixture
def settings(sql_settings, elasticsearch_url, log_prefix) -> Settings:
    """sql_settings plus the test node (as the service sees it) and this test's own log indices."""
    return replace(
        sql_settings,
        **connection_of(elasticsearch_url).settings_changes(),
        log_index_prefix=log_prefix,
        legacy_log_indices=(f"{log_prefix}-legacy-*",),
    )


@pytest.fixture
def clock() -> Clock:
    """The clock of the test's stores and app: the real one (tests/jobs freezes it)."""
    return utcnow


@pytest.fixture
def stores(sql_settings, clock) -> Stores:
    stores = Stores.open(sql_settings.database_url, clock)
    yield stores
    stores.close()


@pytest.fixture
def refs(stores, clock) -> ReferenceData:
    return ReferenceData(stores.db, clock)


@pytest.fixture
def start_execution(stores):
    """Start a new job of the "log-test" job type on a node; returns its ClaimedExecution (RUNNING)."""

    def start(node: str = "node-1"):
        job_type, _ = stores.job_types.save_job_type("img:1", manifest("log-test", command="run"))
        return stores.executions.start_execution(stores.jobs.create_job(job_type.id, {}), node)

    return start


@pytest.fixture
def execution(start_execution):
    """A RUNNING execution (ClaimedExecution) of a new job on node-1."""
    return start_execution()


@pytest.fixture
def make_client(settings, clock):
    """Build the whole app (logs included) with (optionally changed) settings; tests never patch."""
    built: list[Services] = []

    def build(clock=clock, **changes) -> testing.TestClient:
        changed = replace(settings, **changes)
        built.append(build_services(changed, clock))
        return testing.TestClient(create_app(built[-1], changed, clock))

    yield build
    for services in built:
        # The log writer's thread runs from the start (it scans for other processes' spooled lines): stop it, so
        # no app outlives its test. A short ship timeout: a test may end with Elasticsearch cut off on purpose.
        services.close(ship_timeout=2.0)


@pytest.fixture
def executor_api(make_client, settings, stores):
    """executor_api(node, lease_seconds=60, bound=True): the app served on loopback with its lease expiry, and an
    executor token of `node` (bound=False: of every node), for `python -m worker` processes (tests/live_api.py);
    all stopped after the test."""
    with ExitStack() as stack:
        yield lambda node, lease_seconds=60.0, bound=True: stack.enter_context(
            live_api.executor_api(make_client, settings, stores, node, lease_seconds, bound)
        )


@pytest.fixture
def tiny_disk(tmp_path) -> Path:
    """A 256 KiB tmpfs mounted for the test (as root), unmounted after: a disk to fill (fill)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    assert os.geteuid() == 0, "the disk-full tests mount a tmpfs: run them as root (CI does)"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=True)  # a shipper thread still holds a file


def fill(mount: Path, leave: int) -> Path:
    """A ballast file taking all but about `leave` bytes of the disk."""
    ballast = mount / "ballast"
    st = os.statvfs(mount)
    size = st.f_bavail * st.f_frsize - leave
    with open(ballast, "wb") as f:
        f.write(b"\0" * size)
    return ballast


@pytest.fixture
def client(make_client) -> testing.TestClient:
    return make_client()


@pytest.fixture
def auth() -> dict:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def pytest_addoption(parser) -> None:
    # Registered here, at the root, so `make test PYTEST_ARGS=--long` works too.
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="reliability suite: long variants (5-minute soak, more fuzzing, more lines)",
    )


def pytest_report_header(config) -> list[str]:
    database = DATABASE_URL
    # Never a password in the report: URLs are shown with their credentials masked or moved out.
    database = make_url(database).render_as_string(hide_password=True) if database else "(SQLite per test)"
    if os.environ.get("ELASTICSEARCH_URL"):
        try:
            elasticsearch = describe(Settings.from_env({**os.environ, "API_TOKEN": "-"}))
        except ConfigurationError as exc:
            elasticsearch = str(exc)
    else:
        mode = ", ".join(f"{name}={os.environ[name]}" for name in ("ES_VERSION", "ES_SECURITY") if os.environ.get(name))
        elasticsearch = f"(testcontainers or launcher{': ' + mode if mode else ''})"
    return [f"DATABASE_URL: {database}", f"ELASTICSEARCH_URL: {elasticsearch}"]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if ES_SEEN in config.stash:  # which node the run used (ES_VERSION / ES_SECURITY), for CI logs
        terminalreporter.write_line(f"ran against {config.stash[ES_SEEN]}")


# Fixtures that start or reach Elasticsearch: a test using any of them (directly or through another) is `es`.
ES_FIXTURES = frozenset(
    {"elasticsearch_connection", "elasticsearch_url", "es", "service_es", "own_node", "secured_connection"}
)
RELIABILITY = Path(__file__).resolve().parent / "reliability"
KUBERNETES = Path(__file__).resolve().parent / "kubernetes"


def pytest_collection_modifyitems(config, items) -> None:
    """Mark each test by what it needs, from the fixtures it uses and where it lives (see the module docstring)."""
    for item in items:
        uses_database = "database_url" in getattr(item, "fixturenames", ())
        # sql_free may be written on a module; it must not reach DATABASE_URL's database through the fixtures.
        if item.get_closest_marker("sql_free") and uses_database:
            raise pytest.UsageError(f"{item.nodeid} is marked sql_free but uses a database (database_url)")
        if not uses_database:  # DATABASE_URL cannot reach it (see DATABASE_URL above): the same on any database
            item.add_marker(pytest.mark.sql_free)
        if ES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.es)
        if "secured_connection" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.secured)
        if item.path.is_relative_to(RELIABILITY):
            item.add_marker(pytest.mark.reliability)
        if item.path.is_relative_to(KUBERNETES):
            item.add_marker(pytest.mark.kubernetes)
    # The Kubernetes tier needs a real cluster (built on a cache miss, minutes): it runs when -m names it.
    if "kubernetes" not in (config.option.markexpr or ""):
        cluster = [item for item in items if item.path.is_relative_to(KUBERNETES)]
        if cluster:
            config.hook.pytest_deselected(items=cluster)
            items[:] = [item for item in items if not item.path.is_relative_to(KUBERNETES)]
