"""Raw output of one execution's streams -> numbered lines -> shipper batches.

Lines are stamped with the time their bytes were read and numbered in that same order across all streams
of the execution: numbers are reserved per batch, under one lock, so they follow capture order exactly
(and lines read together, which share a timestamp, are still told apart by their numbers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ingest.documents import CapturedLine, Origin, bulk_pairs
from ingest.log_writer import LogWriter

Reserve = Callable[[int], int]  # count -> first number of a block of `count` consecutive numbers


class LocalSequence:
    """Order numbers handed out in-process, from `first` on (when no database reserves them)."""

    def __init__(self, first: int = 1):
        self.next = first
        self._lock = threading.Lock()

    def __call__(self, count: int) -> int:
        with self._lock:
            first, self.next = self.next, self.next + count
            return first


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def cut_at_char(raw: bytes | bytearray, limit: int) -> int:
    """The largest cut <= limit that does not split a UTF-8 sequence."""
    cut = limit
    while cut > 0 and (raw[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut or limit


class Capture:
    def __init__(
        self,
        shipper: LogWriter,
        origin: Origin,
        reserve: Reserve,
        *,
        max_line_bytes: int = 1024 * 1024,
        batch_lines: int = 5000,
        batch_bytes: int = 4 * 1024 * 1024,
        linger: float = 0.2,
        on_accept: Callable[[int], None] | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ):
        self.shipper = shipper
        self.origin = origin
        self.reserve = reserve
        self.max_line_bytes = max_line_bytes
        self.batch_lines = batch_lines
        self.batch_bytes = batch_bytes
        self.on_accept = on_accept
        self.clock_ns = clock_ns
        self.accepted = 0  # lines durably spooled so far
        self._lock = threading.Lock()
        self._partial: dict[str, bytearray] = {}
        self._lines: list[tuple[str, str, int]] = []  # (stream, message, time_ns) awaiting numbers
        self._bytes = 0
        self._last_ns = 0
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._linger, args=(linger,), name="capture-flush", daemon=True)
        self._timer.start()

    def feed(self, stream: str, data: bytes) -> None:
        """Bytes read from one stream; every complete line in them is captured now."""
        with self._lock:
            now = max(self.clock_ns(), self._last_ns)  # never backwards within an execution
            self._last_ns = now
            buf = self._partial.setdefault(stream, bytearray())
            buf += data
            start = 0
            while True:
                end = buf.find(b"\n", start)
                if end < 0:
                    break
                self._take(stream, bytes(buf[start:end]), now)
                start = end + 1
            del buf[:start]
            # A line longer than the limit is kept in consecutive pieces of at most max_line_bytes.
            while len(buf) > self.max_line_bytes:
                cut = cut_at_char(buf, self.max_line_bytes)
                self._take(stream, bytes(buf[:cut]), now)
                del buf[:cut]
            if len(self._lines) >= self.batch_lines or self._bytes >= self.batch_bytes:
                self._flush_locked()

    def end(self, stream: str) -> None:
        """The stream closed: a last line without a newline is still a line."""
        with self._lock:
            buf = self._partial.pop(stream, None)
            if buf:
                now = max(self.clock_ns(), self._last_ns)
                self._take(stream, bytes(buf), now)

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def close(self) -> None:
        """End every stream and hand the last lines to the shipper (which may still be shipping them)."""
        self._stop.set()
        for stream in list(self._partial):
            self.end(stream)
        self.flush()
        self._timer.join()

    def _take(self, stream: str, raw: bytes, now: int) -> None:
        while len(raw) > self.max_line_bytes:
            cut = cut_at_char(raw, self.max_line_bytes)
            self._lines.append((stream, decode(raw[:cut]), now))
            raw = raw[cut:]
        self._lines.append((stream, decode(raw), now))
        self._bytes += len(raw) + 200

    def _flush_locked(self) -> None:
        if not self._lines:
            return
        first = self.reserve(len(self._lines))
        lines = [CapturedLine(msg, stream, ts, first + i) for i, (stream, msg, ts) in enumerate(self._lines)]
        self._lines, self._bytes = [], 0
        pairs, ids = bulk_pairs(self.shipper.prefix, self.origin, lines)
        self.shipper.submit(pairs, ids)
        self.accepted += len(lines)
        if self.on_accept:
            self.on_accept(self.accepted)

    def _linger(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            self.flush()
