"""What a benchmark run needs: machine facts, a real Elasticsearch, PostgreSQL, the API under gunicorn."""

from __future__ import annotations

import http.client
import os
import platform
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.client import HTTPResponse
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent


def log(*parts) -> None:
    """Progress goes to stderr; stdout carries only the JSON document."""
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def machine() -> dict:
    mem_kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "load_avg_at_start": list(os.getloadavg()),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Elasticsearch -----------------------------------------------------------------------------------------


@contextmanager
def elasticsearch(home: Path) -> Iterator[str]:
    """ELASTICSEARCH_URL if set, else our launcher's node in `home` (stopped afterwards)."""
    if os.environ.get("ELASTICSEARCH_URL"):
        yield os.environ["ELASTICSEARCH_URL"]
        return
    env = dict(os.environ, ES_HOME=str(home), ES_PORT="0", ES_HEAP=os.environ.get("ES_HEAP", "4g"))
    script = str(ROOT / "scripts" / "elasticsearch")
    log("starting Elasticsearch in", home)
    url = subprocess.run([script, "start"], env=env, check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([script, "stop"], env=env, check=False)


def es_client(url: str, timeout: float = 300):
    """The one place the bench builds an Elasticsearch client (ours, bare and the setup alike): the service's
    own factory (core/elastic.py) for url, with the environment's credentials and TLS variables
    (ELASTICSEARCH_API_KEY, ELASTICSEARCH_CA_CERTS, ...), patient with a busy node, with a long timeout for bulk
    setup and whole-log reads."""
    from core.elastic import elasticsearch_client
    from settings import Settings

    env = dict(os.environ, ELASTICSEARCH_URL=url, API_TOKEN=os.environ.get("API_TOKEN") or "unused-by-bench")
    return elasticsearch_client(replace(Settings.from_env(env), elasticsearch_timeout=timeout), patient=True)


# --- PostgreSQL --------------------------------------------------------------------------------------------


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """A PostgreSQL server URL for the bench databases (see bench_database), or None when there is none to use.

    DATABASE_URL pointing at PostgreSQL: its server, in databases of our own, so tests running at the same time
    never see our jobs. Otherwise, when PostgreSQL is installed, our own cluster (scripts/postgres, in
    /tmp/scale-bench-postgres so its data is reused by the next run).
    """
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        yield url
        return
    if not any(Path("/usr/lib/postgresql").glob("*/bin")) or os.environ.get("BENCH_NO_POSTGRES"):
        yield None
        return
    pg_dir = Path("/tmp/scale-bench-postgres")
    pid_file = pg_dir / "postmaster.pid"
    if pid_file.exists():  # already running (another run, or one started by hand): use it, leave it running
        port = int(pid_file.read_text().splitlines()[3])
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        return
    port = free_port()
    env = dict(os.environ, PG_DIR=str(pg_dir), PG_PORT=str(port), PG_DB="postgres")
    script = str(ROOT / "scripts" / "postgres")
    log("starting PostgreSQL on port", port)
    try:
        url = subprocess.run([script, "start"], env=env, check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    except subprocess.CalledProcessError as exc:
        log(f"PostgreSQL did not start ({exc}); measuring SQLite only")
        yield None
        return
    try:
        yield url
    finally:
        subprocess.run([script, "stop"], env=env, check=False)


def bench_database(server_url: str, database: str) -> str:
    """The URL of database `database` on the server of `server_url`, created if missing."""
    return _bench_database(server_url, database)


def _bench_database(url: str, database: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(url)
    bench = server.set(database=database)
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        if not c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}):
            c.execute(text(f'CREATE DATABASE "{database}"'))
    engine.dispose()
    return bench.render_as_string(hide_password=False)


# --- the API under gunicorn --------------------------------------------------------------------------------


class Gunicorn:
    """An app as production runs it (gunicorn -c gunicorn.conf.py, gthread), on a free loopback port."""

    def __init__(self, env: dict, workers: int, app: str = "api.wsgi:app", log_dir: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = dict(os.environ, **env, HOST="127.0.0.1", PORT=str(self.port), WORKERS=str(workers))
        # Files, not pipes: a full pipe would block the server.
        self.log_path = (log_dir or Path("/tmp")) / f"gunicorn-{self.port}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self.workers = workers
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2).read()
                if len(self.worker_pids()) >= workers:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise RuntimeError("gunicorn did not start: " + self.log_path.read_text()[-3000:])
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(p) for p in children]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    """VmHWM: the process's peak resident set size; VmRSS: the current one (MiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


IDEMPOTENT = frozenset({"GET", "HEAD"})


def connection_dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle kept-alive connection the server has closed (keep-alive timeout) or written to unasked."""
    if conn.sock is None:
        return True
    try:
        readable, _, _ = select.select([conn.sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


T = TypeVar("T")


def _drain(resp: HTTPResponse) -> int:
    size = 0
    while chunk := resp.read(1 << 16):
        size += len(chunk)
    return size


class Client:
    """One keep-alive HTTP/1.1 connection, as a real client (or a proxy) holds it.

    Before reusing the connection it checks the server has not closed it (then it opens a new one: nothing was
    sent). A request that still gets no answer on a reused connection is sent again only if it is a GET or HEAD,
    counted in `resends` (reported); a POST is never sent twice: it could store its lines twice.
    """

    def __init__(self, url: str, timeout: float = 120):
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.conn: http.client.HTTPConnection | None = None
        self.resends = 0

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        """(status, body)."""
        return self._exchange(method, path, body, headers, lambda resp: resp.read())

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def get_size(self, path: str) -> tuple[int, int]:
        """(status, body size): the body is read in chunks and dropped."""
        return self._exchange("GET", path, None, None, _drain)

    def _exchange(
        self, method: str, path: str, body: bytes | None, headers: dict | None, read: Callable[[HTTPResponse], T]
    ) -> tuple[int, T]:
        if self.conn is not None and connection_dropped(self.conn):
            self.close()
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = read(resp)
                if resp.will_close:
                    self.close()
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt or not reused or method not in IDEMPOTENT:
                    raise
                self.resends += 1
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
