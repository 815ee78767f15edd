"""Log traffic against a test's gunicorn while a fault happens: shippers posting 50-line NDJSON batches to
running executions (each accepted batch kept for the read-back), and a log of every answer's status by kind
and time. Shared by the fault tests that stop Elasticsearch or one of its nodes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tests.conftest import ADMIN_TOKEN
from tests.reliability.harness import Gunicorn, ndjson

# Called after an answer is logged; may raise, which the calling client thread turns into a failure.
Check = Callable[[str, str, object], None]


class LogTraffic:
    def __init__(self, server: Gunicorn, executions, label: str = "", check: Check | None = None):
        self.server = server
        self.label = label  # in every posted message, so a search can find them
        self.check = check
        self.log: list[tuple[float, str, int]] = []  # (time, kind, status)
        self.accepted: dict[int, list[list[str]]] = {exe.id: [] for exe in executions}  # 202'd batches
        self.failures: list[str] = []
        self.resends: list[int] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def record(self, kind: str, path: str, answer) -> None:
        with self.lock:
            self.log.append((time.monotonic(), kind, answer.status))
        if self.check is not None:
            self.check(kind, path, answer)

    def post(self, http, exe) -> None:
        messages = [f"{self.label}e{exe.id} b{len(self.accepted[exe.id]) + 1} l{i}" for i in range(50)]
        answer = http.post(
            f"/v6/job-executions/{exe.id}/logs/",
            ndjson([{"message": m, "stream": "stdout"} for m in messages]),
            headers={"Content-Type": "application/x-ndjson"},
        )
        self.record("ingest", "", answer)
        if answer.status == 202 and answer.json == {"accepted": 50}:
            self.accepted[exe.id].append(messages)
        else:
            self.failures.append(f"ingest {answer.status} {answer.body[:200]!r}")

    def shipper(self, exe) -> None:
        http = self.server.client(timeout=60, token=ADMIN_TOKEN)
        while not self.stop.is_set():
            try:
                self.post(http, exe)
            except Exception as exc:  # never re-sent: the server may have stored it
                self.failures.append(f"ingest {exc!r}")
            time.sleep(0.05)
        self.resends.append(http.resends)

    def seen(self, kind: str, status: int, after: float = 0.0) -> int:
        with self.lock:
            return sum(1 for t, k, s in self.log if k == kind and s == status and t > after)
