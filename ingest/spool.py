"""An append-only, fsync'd spool of bulk batches, so accepted lines outlive Elasticsearch outages and crashes.

Layout: a directory of segment files `<time>-<pid>-<n>.spool`. Each process appends only to segments of its
own, holding an exclusive flock on each for as long as it lives, so a segment whose lock can be taken
belongs to a process that has gone (exited, crashed or SIGKILLed) and is drained by whoever finds it.

A record is MAGIC, payload length (4 bytes), CRC-32 of the payload (4 bytes), payload. A record that was
being written when the process died is short or fails its CRC; reading stops there. Its append never
returned, so nothing acknowledged is lost by ignoring it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"SLR1"
HEADER = struct.Struct(">4sII")
SUFFIX = ".spool"


class Segment:
    def __init__(self, path: Path, fd: int, size: int = 0):
        self.path = path
        self.fd = fd
        self.size = size
        self.pending = 0  # records appended (or recovered) and not yet shipped
        self.closed = False


def encode_record(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def decode_records(data: bytes) -> tuple[list[bytes], int]:
    """(the whole records at the start of data, bytes after the last whole record)."""
    records: list[bytes] = []
    offset = 0
    while offset + HEADER.size <= len(data):
        magic, length, crc = HEADER.unpack_from(data, offset)
        start = offset + HEADER.size
        payload = data[start : start + length]
        if magic != MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            break
        records.append(payload)
        offset = start + length
    return records, len(data) - offset


class Spool:
    def __init__(self, directory: Path, max_segment_bytes: int = 64 * 1024 * 1024):
        self.directory = Path(directory)
        self.max_segment_bytes = max_segment_bytes
        self._lock = threading.RLock()
        self._current: Segment | None = None
        self._segments: dict[Path, Segment] = {}  # ours: written by us, or orphans we locked
        self._count = 0

    # Writing ----------------------------------------------------------------------------------------

    def append(self, payload: bytes) -> Segment:
        """Store one record durably (written and fsync'd) before returning."""
        record = encode_record(payload)
        with self._lock:
            seg = self._current
            if seg is None or seg.closed or seg.size >= self.max_segment_bytes:
                seg = self._current = self._new_segment()
            try:
                _write_all(seg.fd, record)
                os.fsync(seg.fd)
            except OSError:
                # E.g. a full disk: cut the partial record off, or records after it would be unreadable.
                os.ftruncate(seg.fd, seg.size)
                raise
            seg.size += len(record)
            seg.pending += 1
            return seg

    def done(self, seg: Segment) -> None:
        """One record of seg was shipped; an emptied segment is reset (current) or removed (any other)."""
        with self._lock:
            seg.pending -= 1
            if seg.pending > 0 or seg.closed:
                return
            if seg is self._current:
                # Nothing left to ship: start the file over. Not fsync'd: if the truncation is lost
                # in a crash the records are shipped again and answered 409.
                os.ftruncate(seg.fd, 0)
                seg.size = 0
            else:
                self._remove(seg)

    def close(self) -> None:
        """Release every segment (an unshipped one stays on disk for the next process to drain)."""
        with self._lock:
            for seg in list(self._segments.values()):
                if seg.size == 0 and seg.pending <= 0:
                    self._remove(seg)
                else:
                    seg.closed = True
                    os.close(seg.fd)
            self._current = None

    # Recovery ---------------------------------------------------------------------------------------

    def take_orphans(self) -> list[tuple[Segment, list[bytes]]]:
        """Segments left by processes that are gone, now locked by us, with their whole records."""
        found: list[tuple[Segment, list[bytes]]] = []
        if not self.directory.is_dir():
            return found
        for path in sorted(self.directory.glob("*" + SUFFIX)):
            with self._lock:
                if path in self._segments:
                    continue
                seg = self._try_lock(path)
                if seg is None:
                    continue
                data = _read_all(seg.fd)
                records, torn = decode_records(data)
                if torn:
                    log.warning("spool %s: ignoring %d bytes of an unfinished record", path, torn)
                seg.size = len(data)
                seg.pending = len(records)
                self._segments[path] = seg
                if not records:
                    self._remove(seg)
                    continue
                found.append((seg, records))
        return found

    def pending_files(self) -> list[Path]:
        return sorted(self.directory.glob("*" + SUFFIX)) if self.directory.is_dir() else []

    # Internals --------------------------------------------------------------------------------------

    def _new_segment(self) -> Segment:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._count += 1
        name = f"{time.time_ns()}-{os.getpid()}-{self._count}"
        tmp = self.directory / (name + ".new")
        path = self.directory / (name + SUFFIX)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        # Locked before it gets the name drainers look for, so no one can take it from us.
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(tmp, path)
        _fsync_dir(self.directory)
        seg = Segment(path, fd)
        self._segments[path] = seg
        return seg

    def _try_lock(self, path: Path) -> Segment | None:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Another drainer may have removed it between our open and our lock.
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(path)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        return Segment(path, fd)

    def _remove(self, seg: Segment) -> None:
        # Unlink while still holding the lock, then let go.
        try:
            os.unlink(seg.path)
        except FileNotFoundError:
            pass
        seg.closed = True
        os.close(seg.fd)
        self._segments.pop(seg.path, None)
        if seg is self._current:
            self._current = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
