"""Processes and measurements for the reliability suite: gunicorn, the local worker, a PostgreSQL cluster of our
own, plain HTTP on loopback, and /proc readings (RSS, open files, database connections).

Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from tests.es_node import connection_env
from tests.live_api import ExecutorApi

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
# Bits of text an error body must never show: tracebacks, driver names, where things run.
LEAKS = (
    "Traceback",
    'File "',
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "elastic_transport",
    "urllib3",
    "OperationalError",
    "/work/",
    "site-packages",
    socket.gethostname(),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s (last: {last!r})")


# --- HTTP on loopback ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


# Methods whose request can be sent again without changing anything more than the first one did.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


def connection_dropped(conn: http.client.HTTPConnection) -> bool:
    """True when an idle kept-alive connection can't be used: the server closed it (its keep-alive timeout, or
    its worker died) or sent something unasked. Nothing was sent on it yet, so opening a new one is safe."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)  # an idle HTTP/1.1 connection has nothing to read: EOF, a reset, or garbage


class Http:
    """One keep-alive connection to 127.0.0.1:port.

    A request is never sent twice behind the test's back where that could change something:
    - before reusing the kept-alive connection it checks that the server has not closed it; if it has, it opens
      a new one. Nothing had been sent, so this is no re-send (counted in `reconnects`);
    - a request that still gets no answer on a reused connection (the server closed it in the instant between
      that check and the send, or its worker died mid-request) is sent once more on a new connection only if
      its method is idempotent (GET, HEAD), and counted in `resends`. Any other method (a POST: log ingest,
      cancel, requeue) raises, since the server may have processed it.
    Tests assert a bound on `resends`: zero, unless the test kills a worker on purpose.
    """

    def __init__(self, port: int, timeout: float = 30.0, token: str | None = None):
        self.port = port
        self.timeout = timeout
        self.token = token
        self.resends = 0  # idempotent requests sent again after a reused connection gave no answer
        self.reconnects = 0  # kept-alive connections found closed by the server before a request was sent
        self._conn: http.client.HTTPConnection | None = None

    def _send(self, method: str, path: str, body, hdrs: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
        self._conn.request(method, path, body=body, headers=hdrs)
        resp = self._conn.getresponse()
        return resp, resp.read()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict | list | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Answer:
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        bearer = token if token is not None else self.token
        if bearer:
            hdrs.setdefault("Authorization", f"Bearer {bearer}")
        started = time.perf_counter()
        if self._conn is not None and connection_dropped(self._conn):
            self.close()
            self.reconnects += 1
        reused = self._conn is not None
        if self._conn is None:
            self._conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
        try:
            resp, data = self._send(method, path, body, hdrs)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            if not reused or method.upper() not in IDEMPOTENT:
                raise
            self.resends += 1
            self._conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
            try:
                resp, data = self._send(method, path, body, hdrs)
            except Exception:
                self.close()
                raise
        except Exception:
            self.close()
            raise
        answer = Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, time.perf_counter() - started)
        if resp.will_close:
            self.close()
        return answer

    def get(self, path: str, **kw) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, body=None, **kw) -> Answer:
        return self.request("POST", path, body, **kw)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def ndjson(lines: list[dict]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def assert_clean_error(answer_or_body, status: int | None = None, echoed: str = "") -> None:
    """An error body is {"detail": <text>, "request_id": <id>} and says nothing about the insides. A marker that the request
    itself carried (`echoed`, e.g. a fuzzed value the detail quotes back) is not a leak."""
    body = answer_or_body.body if isinstance(answer_or_body, Answer) else answer_or_body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    for leak in LEAKS:
        assert leak not in text or leak in echoed, (
            f"error body{f' ({status})' if status else ''} leaks {leak!r}: {text[:300]}"
        )
    if text.strip():
        parsed = json.loads(text)
        assert isinstance(parsed, dict) and set(parsed) == {"detail", "request_id"}, text[:300]
        assert isinstance(parsed["request_id"], str) and parsed["request_id"], text[:300]


# --- /proc ----------------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def open_fds(pid: int) -> list[str]:
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            pass
    return out


def tcp_table() -> list[dict]:
    rows = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
                    rows.append(
                        {
                            "local_port": int(local.rsplit(":", 1)[1], 16),
                            "remote_port": int(remote.rsplit(":", 1)[1], 16),
                            "state": state,
                            "inode": inode,
                        }
                    )
        except FileNotFoundError:
            pass
    return rows


def socket_inodes(pid: int) -> set[str]:
    return {t[len("socket:[") : -1] for t in open_fds(pid) if t.startswith("socket:[")}


def tcp_connections_to(pid: int, remote_port: int) -> int:
    """Established TCP connections of the process to remote_port (from /proc/<pid>/fd and /proc/net/tcp)."""
    inodes = socket_inodes(pid)
    return sum(
        1
        for row in tcp_table()
        if row["inode"] in inodes and row["remote_port"] == remote_port and row["state"] == "01"
    )


def pid_serving(client_port: int, candidates: list[int]) -> int | None:
    """Which of the candidate processes holds the server side of the connection from client_port."""
    server_inodes = {row["inode"] for row in tcp_table() if row["remote_port"] == client_port}
    for pid in candidates:
        if socket_inodes(pid) & server_inodes:
            return pid
    return None


@dataclass
class ProcessReading:
    pid: int
    rss: int
    fds: int
    db_connections: int
    es_connections: int


def read_process(pid: int, database_url: str, elasticsearch_url: str) -> ProcessReading:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        db = sum(1 for t in open_fds(pid) if t == str(Path(url.database).resolve()))
    else:
        db = tcp_connections_to(pid, url.port or 5432)
    es = tcp_connections_to(pid, int(elasticsearch_url.rstrip("/").rsplit(":", 1)[1]))
    return ProcessReading(pid, rss_bytes(pid), len(open_fds(pid)), db, es)


# --- gunicorn -----------------------------------------------------------------------------------------------


@dataclass
class Gunicorn:
    """`gunicorn -c gunicorn.conf.py api.wsgi:app` (the production configuration) on a free loopback port."""

    data_dir: Path
    database_url: str
    elasticsearch_url: str
    log_prefix: str
    token: str
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOST=LOOPBACK,
            PORT=str(self.port),
            WORKERS=str(self.workers),
            DATA_DIR=str(self.data_dir),
            DATABASE_URL=self.database_url,
            **connection_env(self.elasticsearch_url),
            LOG_INDEX_PREFIX=self.log_prefix,
            LOG_LEGACY_INDICES=f"{self.log_prefix}-legacy-*",
            API_TOKEN=self.token,
            SPOOL_DIR=str(self.data_dir / "spool"),
        )
        env.update(self.extra_env)
        return env

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 60.0) -> Gunicorn:
        self.port = self.port or free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.data_dir / f"gunicorn-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "api.wsgi:app"],
            cwd=ROOT,
            env=self.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        probe = Http(self.port, timeout=5)

        def up() -> bool:
            assert self.proc.poll() is None, f"gunicorn exited: {self.log_tail()}"
            try:
                return probe.get("/healthz").status == 200 and len(self.worker_pids()) == self.workers
            except OSError:
                return False
            finally:
                probe.close()

        wait_until(up, timeout, 0.2, "gunicorn answering /healthz")
        return self

    @property
    def master(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        return children(self.master)

    def client(self, timeout: float = 30.0, token: str | None = None) -> Http:
        return Http(self.port, timeout=timeout, token=token)

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = (self.data_dir / f"gunicorn-{self.port}.log").read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=35)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._log.close()


# --- the local worker --------------------------------------------------------------------------------------


def start_worker(api: ExecutorApi, log_file: Path) -> subprocess.Popen:
    """`python -m worker` as production runs it: the API's URL and an executor token (tests/live_api.py's
    executor_of), no DATABASE_URL; its spool in DATA_DIR/worker-spool, its output in log_file."""
    env = api.env(
        SPOOL_DIR=str(api.settings.data_dir / "worker-spool"),
        WORKER_LEASE_SECONDS=str(api.lease_seconds),
        # The jobs here count their tries in a file of the test's: the sandbox forbids exactly that
        # (tests/security/test_local_jobs.py covers the sandboxed `python -m worker`).
        WORKER_SANDBOX="0",
    )
    out = open(log_file, "ab")
    try:
        return subprocess.Popen(api.argv("--poll", "0.2"), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def kill_processes_mentioning(marker: str) -> int:
    """SIGKILL every process whose command line contains marker (orphans of a killed worker)."""
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


# --- a PostgreSQL cluster of our own ------------------------------------------------------------------------


class PostgresCluster:
    """scripts/postgres with a PG_DIR and PG_PORT of this run's own (a new directory under /tmp, a free port): it
    can be stopped and started without touching the suite's cluster, nor the cluster of a run going on beside."""

    def __init__(self, directory: Path | None = None, port: int | None = None, database: str = "scale_test"):
        self.directory = directory or Path(tempfile.mkdtemp(prefix="rel-pg-"))
        self.port = port or free_port()
        self.database = database

    def _run(self, command: str) -> str:
        env = dict(os.environ, PG_DIR=str(self.directory), PG_PORT=str(self.port), PG_DB=self.database)
        done = subprocess.run(
            [str(ROOT / "scripts" / "postgres"), command], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"scripts/postgres {command}: {done.stderr}"
        return done.stdout.strip()

    def start(self) -> str:
        return self._run("start")

    def stop(self) -> None:
        self._run("stop")

    def remove(self) -> None:
        """Stop it and delete its directory (at the end of the tests that use it)."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def fresh_schema_url(self, base: str) -> tuple[str, str]:
        from sqlalchemy import create_engine, text

        schema = f"rel_{uuid.uuid4().hex[:10]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False), schema


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)
