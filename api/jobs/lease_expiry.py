"""Lease expiry in the API: a thread of each API process fails (node-lost, retried while tries remain) the
executions whose executor stopped renewing their lease (it died, or lost the service for longer than the lease),
so no job stays RUNNING forever. Executors only hold an executor token now, so this runs here and not in them.

Every third of a lease, the process that claims the task for that period (jobs/task_claim_store.py, the
alert checker's kind of claim) acts; the others skip. Acting twice would be harmless anyway: an execution is
failed by a conditional UPDATE that checks its lease is still expired."""

from __future__ import annotations

import logging
import os
import socket
import threading

from core import metrics
from jobs.execution_store import ExecutionStore
from jobs.task_claim_store import TaskClaimStore

log = logging.getLogger("api.leases")
TASK = "lease-expiry"


class LeaseExpiry:
    def __init__(self, executions: ExecutionStore, claims: TaskClaimStore, lease_seconds: float):
        self._executions = executions
        self._claims = claims
        self.period = max(0.2, lease_seconds / 3)
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-expiry", daemon=True)

    def start(self) -> LeaseExpiry:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.run_once()
            except Exception:  # the database is down, say: try again next period
                log.exception("lease expiry failed")

    def run_once(self) -> int:
        """Fail the expired leases if this process claims this period; returns how many it failed."""
        # A claim a little shorter than the period: the next tick of any process finds it free.
        if not self._claims.claim(TASK, self.holder, self.period * 0.9):
            return 0
        failed = self._executions.fail_expired_leases()
        metrics.WORKER_LEASE_EXPIRIES.inc(failed)
        if failed:
            log.warning("failed %d executions whose executor's lease ran out", failed)
        return failed
