"""What Capture, the node agent and the worker ship lines with: the Shipper (to Elasticsearch) or, on an executor
host holding an executor token, the Forwarder (to the API). Both are a LogWriter: accepted batches go to the spool
first (fsync'd before submit returns) and wait in one queue, with the backlog metrics, for the background thread
that sends them; what a dead process left in the spool is adopted into the same queue. Only how a batch is sent
differs (each subclass's `_run`)."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from core import metrics
from core.metrics import Backlog
from ingest.spool import Segment, Spool

log = logging.getLogger(__name__)

_INDEX_START = b'{"create":{"_index":"'  # how documents.bulk_pairs serializes an action


def index_of(action: bytes) -> str:
    """The target index of one serialized bulk action line."""
    if action.startswith(_INDEX_START):  # index names never hold a quote or a backslash
        return action[len(_INDEX_START) : action.index(b'"', len(_INDEX_START))].decode()
    return next(iter(json.loads(action).values()))["_index"]


@dataclass
class SpoolBatch:
    """One spool record: bulk (action, source) lines and their _ids, in line order."""

    pairs: list[tuple[bytes, bytes]]
    ids: list[str]
    segment: Segment | None = None
    stored: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)  # permanent per-item errors: {"line", "status", "error"}
    retry: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    spooled_at: float = field(default_factory=time.time)  # Unix time, for the age of the oldest waiting batch
    size: int = 0  # payload bytes
    _indices: set[str] | None = None

    @property
    def indices(self) -> set[str]:
        if self._indices is None:
            self._indices = {index_of(action) for action, _ in self.pairs}
        return self._indices

    def payload(self) -> bytes:
        return b"".join(a + b"\n" + s + b"\n" for a, s in self.pairs)

    @classmethod
    def from_payload(cls, payload: bytes, segment: Segment, spooled_at: float) -> SpoolBatch:
        lines = payload.split(b"\n")[:-1]  # JSON lines never hold a raw newline
        pairs = list(zip(lines[0::2], lines[1::2]))
        ids = [json.loads(a)["create"]["_id"] for a, _ in pairs]
        return cls(pairs, ids, segment, spooled_at=spooled_at, size=len(payload))

    @property
    def accepted(self) -> int:
        return self.stored + self.duplicates


class LogWriter:
    """The spool and its queue of batches waiting to be sent. A subclass sets its own state, then calls
    `_begin()`, and implements `_run` (the sender thread's loop, which ends when `_abandon` is set)."""

    name = "log writer"  # in messages and the sender thread's name

    prefix: str  # of the daily indices named in the spooled records

    def __init__(self, spool_dir: Path, *, backoff: tuple[float, float], orphan_scan_seconds: float):
        self.spool = Spool(spool_dir)
        self.backoff = backoff
        self.orphan_scan_seconds = orphan_scan_seconds
        self.stored = 0
        self.duplicates = 0
        self.errors: deque[dict] = deque(maxlen=1000)
        self.error_count = 0  # lines refused for good
        self.last_failure: str | None = None  # the whole message, for logs and the command line
        self.last_failure_reason: str | None = None  # what may be shown to anyone: no address, no message
        self.last_failure_at: float | None = None  # Unix time
        self.failing = False  # the last pass left batches to retry
        self._pending_bytes = 0
        self._cond = threading.Condition()
        self._pending: deque[SpoolBatch] = deque()
        self._closing = False
        self._abandon = False
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def _begin(self) -> None:
        self.adopt_orphans()  # what a dead process left behind goes out first
        # The thread runs from the start, not from the first submit: its periodic scan is what finds the segments
        # of a process that stops after this one started (the workers a reload replaces, when the lines could not
        # be sent in time), and this process may never be sent a line.
        self._start()

    # Producer side ---------------------------------------------------------------------------------

    def submit(self, pairs: list[tuple[bytes, bytes]], ids: list[str]) -> SpoolBatch:
        """Accept a batch: durably spooled when this returns, sent in the background."""
        batch = SpoolBatch(pairs, ids)
        with self._cond:
            if self._closing:
                raise RuntimeError(f"{self.name} is closed")
            payload = batch.payload()
            batch.segment = self.spool.append(payload)
            batch.size = len(payload)
            self._queue([batch])
            metrics.LINES_ACCEPTED.inc(len(ids))
            self._start()
            self._cond.notify_all()
        return batch

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything accepted so far has left the queue; False when timeout came first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    @property
    def pending_lines(self) -> int:
        with self._cond:
            return sum(len(b.ids) for b in self._pending)

    def backlog(self) -> Backlog:
        """What this writer has spooled and not yet sent."""
        with self._cond:
            oldest = min((b.spooled_at for b in self._pending), default=None)
            return Backlog(sum(len(b.ids) for b in self._pending), self._pending_bytes, oldest)

    def close(self, timeout: float | None = 30.0) -> bool:
        """Send what is pending (up to timeout), then stop; unsent batches stay in the spool."""
        self._wake.set()  # a pass waiting out its backoff tries again now (a stop should not wait for it)
        drained = self.flush(timeout)
        with self._cond:
            self._closing = True
            self._abandon = True
            self._cond.notify_all()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.backoff[1], 5.0) + 5.0)
        with self._cond:
            # What is left stays on disk for the next process: it no longer waits on this one.
            self._unqueue(list(self._pending))
        self.spool.close()
        return drained

    def adopt_orphans(self) -> int:
        """Queue the batches of spool segments whose writer is gone; returns how many."""
        try:
            orphans = self.spool.take_orphans()
        except OSError as exc:
            log.warning("could not read the spool: %s", exc)
            return 0
        count = 0
        with self._cond:
            for seg, payloads in orphans:
                log.info("%s: taking %d spooled batches from %s", self.name, len(payloads), seg.path.name)
                # Records carry no time: the segment's last write is the latest any of them was spooled.
                spooled_at = _modified(seg.path)
                self._queue([SpoolBatch.from_payload(p, seg, spooled_at) for p in payloads])
                count += len(payloads)
            if count:
                self._start()
            self._cond.notify_all()
        return count

    def _queue(self, batches: list[SpoolBatch]) -> None:
        """Add batches to the pending queue and the backlog metrics (the caller holds _cond)."""
        self._pending.extend(batches)
        lines, size = sum(len(b.ids) for b in batches), sum(b.size for b in batches)
        self._pending_bytes += size
        metrics.SPOOL_LINES.inc(lines)
        metrics.SPOOL_BYTES.inc(size)
        self._set_oldest()

    def _unqueue(self, batches: list[SpoolBatch]) -> None:
        """Take batches off the pending queue and the backlog metrics (the caller holds _cond)."""
        for batch in batches:
            self._pending.remove(batch)
        lines, size = sum(len(b.ids) for b in batches), sum(b.size for b in batches)
        self._pending_bytes -= size
        metrics.SPOOL_LINES.dec(lines)
        metrics.SPOOL_BYTES.dec(size)
        self._set_oldest()

    def _set_oldest(self) -> None:
        metrics.SPOOL_OLDEST.set(min((b.spooled_at for b in self._pending), default=math.inf))

    # Sender side -----------------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name.replace(" ", "-"), daemon=True)
            self._thread.start()

    def _run(self) -> None:
        raise NotImplementedError


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
