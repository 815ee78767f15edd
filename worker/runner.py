"""The worker loop: claim a QUEUED job, run its process under a lease and a timeout, ship its output, record
how it ended; and fail the executions other workers left behind (see the package docstring)."""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from core import metrics
from ingest.capture import Capture, LocalSequence
from ingest.documents import Origin
from ingest.log_writer import LogWriter
from jobs.errors import JobStateConflict
from worker.executor_client import Executions
from worker.job_process import command_argv, exit_error, job_environment
from worker.outputs import Outputs, finish_with_files
from worker.sandbox import Sandbox

log = logging.getLogger("worker")

TIMEOUT_ERROR = "timeout"
LOST_ERROR = "node-lost"
KILL_GRACE = 3.0
TIMED_OUT, LEASE_LOST = "timed out", "lease lost"
READ_SIZE = 1 << 16


class Lease:
    """A running execution's lease, renewed every third of its length while the job runs."""

    def __init__(self, executions: Executions, exe_id: int, seconds: float):
        self.executions, self.exe_id, self.seconds = executions, exe_id, seconds
        self.renewed = time.monotonic()

    def keep(self) -> bool:
        """Renew when due; False once the execution is no longer RUNNING (another worker failed it)."""
        if time.monotonic() - self.renewed < self.seconds / 3:
            return True
        try:
            if not self.executions.renew_lease(self.exe_id, self.seconds):
                return False
            self.renewed = time.monotonic()
        except Exception as exc:  # the service is unreachable: the job goes on, the next tick tries again
            metrics.DATABASE_ERRORS.labels("worker").inc()
            log.warning("could not renew the lease of execution %s: %s", self.exe_id, exc)
        return True


class Worker:
    def __init__(
        self,
        executions: Executions,
        shipper: LogWriter,
        node: str,
        *,
        max_line_bytes: int = 1024 * 1024,
        ship_wait: float = 30.0,
        lease_seconds: float = 60.0,
        outputs: Outputs | None = None,
        sandbox: Sandbox | None = None,
    ):
        self.executions = executions
        self.shipper = shipper
        self.node = node
        self.max_line_bytes = max_line_bytes
        self.ship_wait = ship_wait
        self.lease_seconds = lease_seconds
        # Where jobs write their outputs, reported as the files their executions produced; None: a temporary
        # folder, removed with the job's working directory and not reported.
        self.outputs = outputs
        # None: jobs run as the worker's own user with its view of the machine (WORKER_SANDBOX=0).
        self.sandbox = sandbox
        self.stopping = threading.Event()
        self._child: subprocess.Popen | None = None

    def recover(self) -> int:
        failed = self.executions.fail_stale_running(self.node)
        metrics.WORKER_RECOVERIES.inc(failed)
        if failed:
            log.warning("failed %d executions left RUNNING on %s by a dead worker", failed, self.node)
        return failed

    def run_forever(self, poll: float = 1.0, once: bool = False) -> None:
        while not self.stopping.is_set():
            try:
                claimed = self.executions.claim_next_queued(self.node, self.lease_seconds)
            except Exception as exc:  # the service is unreachable past the client's retries: look again later
                metrics.DATABASE_ERRORS.labels("worker").inc()
                log.warning("could not claim a job: %s", exc)
                claimed = None
            if claimed is None:
                if once:
                    return
                self.stopping.wait(poll)
                continue
            metrics.WORKER_CLAIMS.inc()
            with metrics.WORKER_RUNNING.track_inprogress():
                self.run(claimed)
            if once:
                return

    def run(self, claimed) -> str:
        """Run one started execution to its end; returns the job's new status ("LOST" if its lease was lost)."""
        log.info("running job %s execution %s (%s)", claimed.job_id, claimed.id, claimed.cluster_id)
        origin = Origin(
            cluster_id=claimed.cluster_id,
            task=f"{claimed.cluster_id}_main",
            node=self.node,
            host=socket.gethostname(),
            job_type=claimed.job_type_name,
            job_type_version=claimed.job_type_version,
            job_id=str(claimed.job_id),
            exe_num=str(claimed.exe_num),
        )
        # This worker alone writes this execution's log (a new execution gets a new cluster id), so it numbers
        # the lines itself, from 1, without asking the service for each batch.
        capture = Capture(self.shipper, origin, LocalSequence(), max_line_bytes=self.max_line_bytes)
        status, error, files = "FAILED", None, []
        try:
            with tempfile.TemporaryDirectory(prefix=f"{claimed.cluster_id}-") as workdir:
                output_dir = self.outputs.directory(claimed) if self.outputs else Path(workdir) / "outputs"
                output_dir.mkdir(exist_ok=True)
                status, error = self._execute(claimed, capture, workdir, str(output_dir))
                files = self.outputs.collect(claimed, output_dir) if self.outputs else []
        except Exception:  # the worker's own fault: still end the execution rather than leave it RUNNING
            log.exception("running execution %s failed", claimed.id)
        finally:
            capture.close()
        # Lines are durably spooled already; waiting a little lets a reader see them when the job ends.
        self.shipper.flush(self.ship_wait)
        try:
            new_status = finish_with_files(self.executions, claimed.id, status, error, files)
        except JobStateConflict as exc:  # its lease ran out and another worker ended it
            log.warning("job %s execution %s ended elsewhere: %s", claimed.job_id, claimed.id, exc)
            metrics.WORKER_RUNS.labels("LOST").inc()
            return "LOST"
        metrics.WORKER_RUNS.labels(status).inc()
        log.info("job %s execution %s: %s -> job %s", claimed.job_id, claimed.id, status, new_status)
        return new_status

    def _execute(self, claimed, capture: Capture, workdir: str, output_dir: str) -> tuple[str, dict | None]:
        interface = (claimed.manifest.get("job") or {}).get("interface") or {}
        env = job_environment(claimed, output_dir)
        try:
            argv = command_argv(interface.get("command") or "", env)
            if not argv:
                raise ValueError("the manifest has no interface.command")
            if self.sandbox is not None:
                self.sandbox.prepare((Path(workdir), Path(output_dir)))
                argv = self.sandbox.argv(argv, env, workdir, output_dir)
                env = {}  # bwrap sets the job's environment itself
            # A session of its own: a timeout or cancel signals the whole group (bwrap, and the job inside it,
            # which --die-with-parent and the end of its pid namespace also take down).
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=workdir,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            capture.feed("stderr", f"could not start the job: {exc}\n".encode())
            return "FAILED", None
        self._child = child
        killed = self._pump(
            child, capture, time.monotonic() + claimed.timeout, Lease(self.executions, claimed.id, self.lease_seconds)
        )
        code = child.wait()
        self._child = None
        if killed == LEASE_LOST:
            metrics.WORKER_LEASES_LOST.inc()
            return "FAILED", {"name": LOST_ERROR}
        if killed == TIMED_OUT:
            metrics.WORKER_TIMEOUTS.inc()
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
        assert child.stdout is not None and child.stderr is not None  # started with both pipes
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
