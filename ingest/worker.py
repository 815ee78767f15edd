"""The local worker: `python -m ingest.worker` runs QUEUED jobs on this machine and ships their output.

Each worker holds a node name exclusively (a lock file in DATA_DIR): the host name, or host-2, host-3, ...
when several workers run here, or --node NAME. Holding it, the worker first fails the executions a dead
worker of that name left RUNNING (node-lost: requeued while tries remain), then loops: claim the next QUEUED
job (FOR UPDATE SKIP LOCKED on PostgreSQL), run the manifest's interface.command without a shell, its
inputs and settings in the environment, stream stdout/stderr into the shipper, enforce the timeout, and
record COMPLETED or FAILED (exit codes mapped through the manifest's errors, else algorithm-unknown).

Leases: a claimed execution is leased to its worker for WORKER_LEASE_SECONDS and renewed every third of that
while the job runs. Between jobs every worker fails the executions whose lease ran out (a worker that died on
a machine that never comes back), so no job stays RUNNING forever. A worker that finds its lease taken (it
lost the database for longer than the lease and another worker failed the execution) kills its job.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import re
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ingest.capture import Capture
from ingest.documents import Origin
from ingest.shipper import Shipper
from jobs.records import JobStateConflict

log = logging.getLogger("ingest.worker")

TIMEOUT_ERROR = "timeout"
LOST_ERROR = "node-lost"
KILL_GRACE = 3.0
TIMED_OUT, LEASE_LOST = "timed out", "lease lost"
READ_SIZE = 1 << 16
# Environment passed through to jobs; everything else comes from the job.
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def env_name(name: str) -> str:
    return re.sub(r"\W", "_", name).upper()


def job_environment(claimed, output_dir: str) -> dict[str, str]:
    """Inputs and settings as environment variables (Seed: upper-cased names)."""
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    data = claimed.input or {}
    for name, ids in (data.get("files") or {}).items():
        env[env_name(name)] = " ".join(str(i) for i in ids)  # file ids: there is no file store here
    for name, value in (data.get("json") or {}).items():
        env[env_name(name)] = value if isinstance(value, str) else json.dumps(value)
    for name, value in ((claimed.configuration or {}).get("settings") or {}).items():
        if value is not None:
            env[env_name(name)] = value
    env.update(OUTPUT_DIR=output_dir, SCALE_JOB_ID=str(claimed.job_id), SCALE_EXE_NUM=str(claimed.exe_num),
               SCALE_CLUSTER_ID=claimed.cluster_id)
    return env


def command_argv(command: str, env: dict[str, str]) -> list[str]:
    """Split the command like a shell would, then put values into ${NAME} placeholders of single arguments:
    a value never becomes more than the one argument it stands in (no shell ever sees it)."""
    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        return env.get(name, m.group(0))
    return [_PLACEHOLDER.sub(value, arg) for arg in shlex.split(command)]


def exit_error(manifest: dict, code: int) -> dict | None:
    """The manifest error for an exit code, or None (the store records algorithm-unknown)."""
    for error in (manifest.get("job") or {}).get("errors") or []:
        if error.get("code") == code:
            return {"name": error["name"]}
    return None


class Lease:
    """A running execution's lease, renewed every third of its length while the job runs."""

    def __init__(self, store, exe_id: int, seconds: float):
        self.store, self.exe_id, self.seconds = store, exe_id, seconds
        self.renewed = time.monotonic()

    def keep(self) -> bool:
        """Renew when due; False once the execution is no longer RUNNING (another worker failed it)."""
        if time.monotonic() - self.renewed < self.seconds / 3:
            return True
        try:
            if not self.store.renew_lease(self.exe_id, self.seconds):
                return False
            self.renewed = time.monotonic()
        except Exception as exc:  # the database is unreachable: the job goes on, the next tick tries again
            log.warning("could not renew the lease of execution %s: %s", self.exe_id, exc)
        return True


class Worker:
    def __init__(self, store, shipper: Shipper, node: str, *, max_line_bytes: int = 1024 * 1024,
                 ship_wait: float = 30.0, lease_seconds: float = 60.0):
        self.store = store
        self.shipper = shipper
        self.node = node
        self.max_line_bytes = max_line_bytes
        self.ship_wait = ship_wait
        self.lease_seconds = lease_seconds
        self.stopping = threading.Event()
        self._child: subprocess.Popen | None = None
        self._reaped = float("-inf")

    def recover(self) -> int:
        failed = self.store.fail_stale_running(self.node)
        if failed:
            log.warning("failed %d executions left RUNNING on %s by a dead worker", failed, self.node)
        return failed

    def reap(self) -> int:
        """Fail the executions whose lease ran out (at most once a third of a lease); returns how many."""
        if time.monotonic() - self._reaped < self.lease_seconds / 3:
            return 0
        self._reaped = time.monotonic()
        failed = self.store.fail_expired_leases()
        if failed:
            log.warning("failed %d executions whose worker's lease ran out", failed)
        return failed

    def run_forever(self, poll: float = 1.0, once: bool = False) -> None:
        while not self.stopping.is_set():
            self.reap()
            claimed = self.store.claim_next_queued(self.node, self.lease_seconds)
            if claimed is None:
                if once:
                    return
                self.stopping.wait(poll)
                continue
            self.run(claimed)
            if once:
                return

    def run(self, claimed) -> str:
        """Run one started execution to its end; returns the job's new status ("LOST" if its lease was lost)."""
        log.info("running job %s execution %s (%s)", claimed.job_id, claimed.id, claimed.cluster_id)
        origin = Origin(cluster_id=claimed.cluster_id, task=f"{claimed.cluster_id}_main", node=self.node,
                        host=socket.gethostname(), job_type=claimed.job_type_name,
                        job_type_version=claimed.job_type_version, job_id=str(claimed.job_id),
                        exe_num=str(claimed.exe_num))
        capture = Capture(self.shipper, origin, lambda n: self.store.reserve_log_sequence(claimed.id, n),
                          max_line_bytes=self.max_line_bytes)
        status, error = "FAILED", None
        try:
            with tempfile.TemporaryDirectory(prefix=f"{claimed.cluster_id}-") as workdir:
                status, error = self._execute(claimed, capture, workdir)
        except Exception:  # the worker's own fault: still end the execution rather than leave it RUNNING
            log.exception("running execution %s failed", claimed.id)
        finally:
            capture.close()
        # Lines are durably spooled already; waiting a little lets a reader see them when the job ends.
        self.shipper.flush(self.ship_wait)
        try:
            new_status = self.store.finish_execution(claimed.id, status, error=error)
        except JobStateConflict as exc:  # its lease ran out and another worker ended it
            log.warning("job %s execution %s ended elsewhere: %s", claimed.job_id, claimed.id, exc)
            return "LOST"
        log.info("job %s execution %s: %s -> job %s", claimed.job_id, claimed.id, status, new_status)
        return new_status

    def _execute(self, claimed, capture: Capture, workdir: str) -> tuple[str, dict | None]:
        interface = (claimed.manifest.get("job") or {}).get("interface") or {}
        output_dir = os.path.join(workdir, "outputs")
        os.mkdir(output_dir)
        env = job_environment(claimed, output_dir)
        try:
            argv = command_argv(interface.get("command") or "", env)
            if not argv:
                raise ValueError("the manifest has no interface.command")
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=workdir, start_new_session=True)
        except (OSError, ValueError) as exc:
            capture.feed("stderr", f"could not start the job: {exc}\n".encode())
            return "FAILED", None
        self._child = child
        killed = self._pump(child, capture, time.monotonic() + claimed.timeout,
                            Lease(self.store, claimed.id, self.lease_seconds))
        code = child.wait()
        self._child = None
        if killed == LEASE_LOST:
            return "FAILED", {"name": LOST_ERROR}
        if killed == TIMED_OUT:
            capture.feed("stderr", f"killed after the job type's timeout of {claimed.timeout} s\n".encode())
            return "FAILED", {"name": TIMEOUT_ERROR}
        if self.stopping.is_set() and code < 0:
            return "FAILED", {"name": LOST_ERROR}
        if code == 0:
            return "COMPLETED", None
        return "FAILED", exit_error(claimed.manifest, code)

    def _pump(self, child: subprocess.Popen, capture: Capture, deadline: float, lease: Lease) -> str | None:
        """Copy both pipes into the capture, in the order their bytes arrive, keeping the lease; TIMED_OUT or
        LEASE_LOST when the job had to be killed for that."""
        names = {child.stdout.fileno(): "stdout", child.stderr.fileno(): "stderr"}
        with selectors.DefaultSelector() as selector:
            for fd in names:
                selector.register(fd, selectors.EVENT_READ)
            killed_at, why = None, None
            # Until the job has exited, not just closed its pipes: the timeout and the lease hold till then.
            while selector.get_map() or child.poll() is None:
                left = deadline - time.monotonic()
                if killed_at is None and not lease.keep():
                    killed_at, why = time.monotonic(), LEASE_LOST
                    self._signal(child, signal.SIGKILL)  # someone else answers for this execution now
                elif left <= 0 and killed_at is None:
                    killed_at, why = time.monotonic(), TIMED_OUT
                    self._signal(child, signal.SIGTERM)
                elif killed_at is not None and time.monotonic() - killed_at > KILL_GRACE:
                    self._signal(child, signal.SIGKILL)
                wait = max(0.05, min(left, 1.0, lease.seconds / 3)) if killed_at is None else 0.2
                for key, _ in selector.select(timeout=wait):
                    data = os.read(key.fd, READ_SIZE)
                    if data:
                        capture.feed(names[key.fd], data)
                    else:
                        selector.unregister(key.fd)
                        capture.end(names[key.fd])
        child.stdout.close()
        child.stderr.close()
        if killed_at is not None:
            self._signal(child, signal.SIGKILL)  # the whole group, in case something kept running
        return why

    def stop(self) -> None:
        """Ask the worker to stop: the running job (if any) is killed and failed as node-lost."""
        self.stopping.set()
        child = self._child
        if child is not None:
            self._signal(child, signal.SIGKILL)

    @staticmethod
    def _signal(child: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            pass


def hold_node_name(lock_dir: Path, wanted: str | None) -> tuple[str, int]:
    """(node name, lock fd): --node exactly, else the first free of host, host-2, host-3, ..."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    candidates = [wanted] if wanted else [host] + [f"{host}-{n}" for n in range(2, 1000)]
    for name in candidates:
        fd = os.open(lock_dir / f"worker-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return name, fd
        except BlockingIOError:
            os.close(fd)
    raise SystemExit(f"node name {wanted!r} is held by another running worker" if wanted else "no free node name")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.worker")
    parser.add_argument("--node", default=os.environ.get("WORKER_NODE") or None,
                        help="node name (default: the host name, or host-N when several workers run here)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks at an empty queue")
    parser.add_argument("--once", action="store_true", help="run at most one job, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from elasticsearch import Elasticsearch

    from api.clock import utcnow
    from jobs.db import make_engine
    from jobs.store import JobStore
    from ingest.template import ensure_template_quietly
    from settings import Settings

    settings = Settings.from_env()
    node, _lock = hold_node_name(settings.data_dir, args.node)
    engine = make_engine(settings.database_url)
    store = JobStore(engine, utcnow)
    es = Elasticsearch(settings.elasticsearch_url or "http://127.0.0.1:9200",
                       request_timeout=settings.elasticsearch_timeout)
    ensure_template_quietly(es, settings.log_index_prefix)
    shipper = Shipper(es, settings.log_index_prefix, settings.spool_dir)
    worker = Worker(store, shipper, node, max_line_bytes=settings.max_log_line_bytes,
                    lease_seconds=settings.worker_lease_seconds)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    log.info("worker %s started (pid %d)", node, os.getpid())
    worker.recover()
    worker.run_forever(poll=args.poll, once=args.once)
    drained = shipper.close(timeout=30)
    engine.dispose()
    if not drained:
        log.warning("Elasticsearch unreachable: unshipped lines stay in %s", settings.spool_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
