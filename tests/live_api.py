"""The app served on 127.0.0.1 in a server thread: for the browser tests, and for executors (`python -m worker`)
that talk to it as they do in production, with an executor token and no database credential."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from accounts.local_worker import USER, ensure_local_worker, write_secret
from api.jobs.lease_expiry import LeaseExpiry
from jobs.user_store import EXECUTOR_SCOPE
from settings import Settings
from tests.es_node import connection_env

ROOT = Path(__file__).resolve().parents[1]


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, server_class=ThreadingServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class ExecutorApi:
    """A served app an executor reaches at `url` with the executor token in `token_file` (bound to `node`)."""

    url: str
    token_file: Path
    node: str
    settings: Settings
    lease_seconds: float = 60.0

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def env(self, **extra: str) -> dict[str, str]:
        """`python -m worker`'s environment: the service's URL and the token's file, and no DATABASE_URL (nor any
        other credential of the service). Elasticsearch's settings are there too, though a worker forwarding its
        lines through the API uses none of them."""
        s = self.settings
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "API_TOKEN", "READ_TOKEN")}
        env.update(
            SCALE_API_URL=self.url,
            EXECUTOR_TOKEN_FILE=str(self.token_file),
            DATA_DIR=str(s.data_dir),
            **connection_env(s.elasticsearch_url or ""),
            LOG_INDEX_PREFIX=s.log_index_prefix,
            SPOOL_DIR=str(s.spool_dir),
            WORKER_OUTPUT_DIR=str(s.worker_output_dir),
            WORKER_WORKSPACE=s.worker_workspace,
            PYTHONPATH=str(ROOT),
            WORKER_NODE=self.node,
        )
        env.update(extra)
        return env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "worker", "--node", self.node, *args]


def executor_of(url: str, settings, stores, node: str, lease_seconds: float = 60.0) -> ExecutorApi:
    """An executor of `node` reaching the API at `url` from settings.data_dir, with an executor token made as
    scripts/run makes the local worker's (accounts/local_worker.py, the output workspace data_dir/outputs with
    it)."""
    settings = replace(settings, worker_output_dir=settings.data_dir / "outputs")
    token_file = ensure_local_worker(settings, stores, node, settings.data_dir / f"token-{node}")
    return ExecutorApi(url, token_file, node, settings, lease_seconds)


@contextmanager
def executor_api(
    make_client, settings, stores, node: str, lease_seconds: float = 60.0, bound: bool = True
) -> Iterator[ExecutorApi]:
    """The app served with the lease expiry every API process runs, and an executor of `node` (executor_of); with
    bound=False its token is one for every node, as the Kubernetes engine's (its executions move to their pods'
    nodes)."""
    expiry = LeaseExpiry(stores.executions, stores.task_claims, lease_seconds).start()
    try:
        with serving(make_client(worker_lease_seconds=lease_seconds).app) as url:
            api = executor_of(url, settings, stores, node, lease_seconds)
            if not bound:
                secret, _ = stores.users.create_token(USER, f"engine {node}", scope=EXECUTOR_SCOPE)
                write_secret(api.token_file, secret)
            yield api
    finally:
        expiry.stop()
