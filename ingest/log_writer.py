"""What Capture, the node agent and the worker ship lines with: the Shipper (to Elasticsearch) or, on an executor
host holding an executor token, the Forwarder (to the API). Both spool durably before submit returns."""

from __future__ import annotations

from collections import deque
from typing import Protocol

from core.metrics import Backlog
from ingest.shipper import SpoolBatch
from ingest.spool import Spool


class LogWriter(Protocol):
    prefix: str  # of the daily indices named in the spooled records
    spool: Spool
    stored: int
    duplicates: int
    error_count: int
    errors: deque[dict]
    last_failure: str | None

    def submit(self, pairs: list[tuple[bytes, bytes]], ids: list[str]) -> SpoolBatch: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def close(self, timeout: float | None = 30.0) -> bool: ...

    @property
    def pending_lines(self) -> int: ...

    def backlog(self) -> Backlog: ...

    def adopt_orphans(self) -> int: ...
