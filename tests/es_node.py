"""Finding a real Elasticsearch for the tests: ELASTICSEARCH_URL, else testcontainers, else our launcher.

The launcher's node takes its mode from the same variables as scripts/elasticsearch:
- ES_SECURITY=1: HTTPS with the node's own CA and x-pack security. The service under test (the `settings`
  fixture, the gunicorn and worker subprocesses) then authenticates with an API key that holds ONLY the
  scalelogs_writer and scalelogs_reader roles of mappings/es-roles.json (index patterns `test-*`, the prefix
  of every test's indices), created through `scripts/elasticsearch api-key`; the tests' own admin client
  (`es`: setup, cleanup, checking what was stored) is the elastic user.
- ES_VERSION=9: Elasticsearch 9 (9.2.2, or 9.1.0 secured).
ES_NODES is not inherited: the suite's node is one node; a test that wants a cluster asks for it (nodes=3).

Every node a test run starts registers its Connection by URL, so whatever hands a URL to a subprocess
(tests/reliability/harness.py) can add the credentials with connection_env(url).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from settings import elasticsearch_connection

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "scripts" / "elasticsearch"
ROLES_FILE = ROOT / "mappings" / "es-roles.json"
IMAGE = "docker.elastic.co/elasticsearch/elasticsearch:8.19.0"
# Every test's log indices start with this (conftest's log_prefix), so the service key's roles cover them.
TEST_PREFIX = "test"
SERVICE_ROLES = ("scalelogs_writer", "scalelogs_reader")


def secured() -> bool:
    return os.environ.get("ES_SECURITY", "0").lower() in ("1", "true")


@dataclass(frozen=True)
class Connection:
    """How the tests reach a cluster: its URL(s); on a secured one the service's API key, the CA file and the
    admin credentials (elastic's password, or the environment's for an external cluster)."""

    url: str
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    admin_auth: tuple[str, str] | None = None
    admin_api_key: str | None = None

    def settings_changes(self) -> dict[str, Any]:
        """For dataclasses.replace(settings, ...): the service's view of this cluster."""
        return {
            "elasticsearch_url": self.url,
            "elasticsearch_api_key": self.api_key,
            "elasticsearch_username": self.username,
            "elasticsearch_password": self.password,
            "elasticsearch_ca_certs": self.ca_certs,
        }

    def env(self) -> dict[str, str]:
        """The service's variables for a subprocess."""
        env = {"ELASTICSEARCH_URL": self.url}
        if self.api_key:
            env["ELASTICSEARCH_API_KEY"] = self.api_key
        if self.username and self.password is not None:
            env.update(ELASTICSEARCH_USERNAME=self.username, ELASTICSEARCH_PASSWORD=self.password)
        if self.ca_certs:
            env["ELASTICSEARCH_CA_CERTS"] = self.ca_certs
        return env

    def admin(self, **options: Any) -> Elasticsearch:
        """A client with every right, for setting up and checking (never the product's code path)."""
        if self.admin_auth:
            options["basic_auth"] = self.admin_auth
        elif self.admin_api_key:
            options["api_key"] = self.admin_api_key
        if self.ca_certs:
            options["ca_certs"] = self.ca_certs
        return Elasticsearch(self.url.split(","), **options)


_connections: dict[str, Connection] = {}


def register(connection: Connection) -> Connection:
    _connections[connection.url] = connection
    return connection


def connection_of(url: str) -> Connection:
    """The registered connection of url (a node this run started), else the bare URL."""
    return _connections.get(url, Connection(url))


def connection_env(url: str) -> dict[str, str]:
    """ELASTICSEARCH_URL and, for a secured node of this run, the service's key and CA: for a subprocess."""
    return connection_of(url).env()


class LaunchedNode:
    """A node (or a cluster of `nodes` nodes) started by scripts/elasticsearch in its own home directory; can be
    stopped and restarted (its ports are kept). Secured when ES_SECURITY=1."""

    def __init__(self, home: Path, port: int = 0, nodes: int = 1, security: bool | None = None):
        self.home = home
        self.port = port
        self.nodes = nodes
        self.security = security  # None: as ES_SECURITY says
        self.url: str | None = None
        self.connection: Connection | None = None

    def _run(self, *command: str, extra_env: dict[str, str] | None = None) -> str:
        env = dict(os.environ, ES_HOME=str(self.home), ES_PORT=str(self.port), **(extra_env or {}))
        env.pop("ES_NODES", None)
        if self.nodes > 1:
            env["ES_NODES"] = str(self.nodes)
        if self.security is not None:
            env["ES_SECURITY"] = "1" if self.security else "0"
        done = subprocess.run([str(LAUNCHER), *command], env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/elasticsearch {' '.join(command)} failed:\n{done.stderr}")
        return done.stdout.strip()

    def start(self) -> str:
        self.url = self._run("start")
        # Keep the port across restarts so clients configured with the URL reconnect (a cluster keeps its own).
        if self.nodes == 1:
            self.port = int(self.url.rsplit(":", 1)[1])
        if self.connection is None:
            self.connection = register(self._connection())
        return self.url

    def _connection(self) -> Connection:
        assert self.url is not None
        if not self.url.startswith("https:"):
            return Connection(self.url)
        key = self._run("api-key", "tests-service", *SERVICE_ROLES, extra_env={"LOG_INDEX_PREFIX": TEST_PREFIX})
        return Connection(
            self.url,
            api_key=key,
            ca_certs=self._run("ca"),
            admin_auth=("elastic", self._run("password")),
        )

    def stop(self) -> None:
        self._run("stop")

    def stop_node(self, number: int) -> None:
        self._run("stop-node", str(number))

    def start_node(self, number: int) -> str:
        return self._run("start-node", str(number))


def role_descriptors(roles: Iterable[str], prefix: str = TEST_PREFIX, without: Iterable[str] = ()) -> dict:
    """The roles of mappings/es-roles.json as API key role descriptors for index prefix `prefix`, with each
    privilege named in `without` taken out (cluster or index privilege)."""
    left_out = set(without)
    descriptors = {}
    for name in roles:
        role = json.loads(ROLES_FILE.read_text())[name]
        role.pop("description", None)
        role["cluster"] = [p for p in role.get("cluster", []) if p not in left_out]
        for group in role.get("indices", []):
            group["names"] = [
                prefix + n[len("scalelogs") :] if n.startswith("scalelogs-") else n for n in group["names"]
            ]
            group["privileges"] = [p for p in group["privileges"] if p not in left_out]
        role["indices"] = [group for group in role.get("indices", []) if group["privileges"]]
        descriptors[name] = role
    return descriptors


def role_key(admin: Elasticsearch, roles: Iterable[str], prefix: str = TEST_PREFIX, without: Iterable[str] = ()) -> str:
    """A new API key (encoded) limited to `roles` of mappings/es-roles.json, less the privileges in `without`."""
    created = admin.security.create_api_key(
        name=f"test-{uuid.uuid4().hex[:8]}", role_descriptors=role_descriptors(roles, prefix, without)
    )
    return created["encoded"]


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # no client, no socket, no engine: all mean "no Docker here"
        return False


def external_connection(url: str) -> Connection:
    """ELASTICSEARCH_URL's cluster: the service and the admin client both use the environment's credentials."""
    found = elasticsearch_connection(os.environ)
    assert found.url is not None
    auth = (found.username, found.password) if found.username and found.password is not None else None
    return register(
        Connection(
            found.url,
            api_key=found.api_key,
            username=found.username,
            password=found.password,
            ca_certs=os.environ.get("ELASTICSEARCH_CA_CERTS") or None,
            admin_auth=auth,
            admin_api_key=found.api_key,
        )
    )


@contextmanager
def elasticsearch_for_tests(tmp_home: Path) -> Iterator[Connection]:
    url = os.environ.get("ELASTICSEARCH_URL")
    if url:
        yield external_connection(url)
        return
    if docker_answers() and not secured():
        from testcontainers.community.elasticsearch import ElasticSearchContainer

        with ElasticSearchContainer(IMAGE, mem_limit="1g") as container:
            yield register(Connection(container.get_url()))
        return
    node = LaunchedNode(tmp_home)
    node.start()
    try:
        assert node.connection is not None
        yield node.connection
    finally:
        node.stop()
