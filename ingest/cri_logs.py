"""The kubelet's CRI container log files, read line by line with each line's stream.

Each record is `<RFC3339Nano time> <stdout|stderr> <P|F> <text>\\n`: P marks a partial line continued by the next
record of the same stream (the runtime cuts long lines), F its last piece. A Tail reads one file from an offset
and returns whole lines (pieces joined) with the offset just past them: the offset a checkpoint may keep, since a
partial line not yet finished is read again after a restart rather than shipped in two pieces.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime

from core.times import NS

log = logging.getLogger("ingest")
READ_SIZE = 1 << 20
_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def parse_time_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with up to nine fractional digits (Go's RFC3339Nano)."""
    m = _TIME.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    seconds = int(datetime.fromisoformat(m.group(1) + zone).timestamp())
    return seconds * NS + int((m.group(2) or "0").ljust(9, "0"))


@dataclass(frozen=True, slots=True)
class CriLine:
    stream: str
    time_ns: int  # the time of its last piece: times then never go back along the numbers
    message: bytes
    order: int  # its number in the file: 1, 2, 3, ... in the order the lines ended


def parse_record(raw: bytes) -> tuple[int, str, bool, bytes] | None:
    """(time, stream, partial, text) of one record without its newline; None for a record that is not one."""
    parts = raw.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr"):
        return None
    try:
        time_ns = parse_time_ns(parts[0].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    tags = parts[2].split(b":")
    return time_ns, parts[1].decode(), b"P" in tags, parts[3] if len(parts) > 3 else b""


class Tail:
    """Reads one CRI log file onwards from a checkpoint: (offset, lines before it).

    Lines are numbered in the order they end. The checkpoint only ever moves to a point where no line is in
    pieces: read again from there, the file gives the same lines with the same numbers, so lines shipped after
    the checkpoint and shipped again after a restart are the same documents (same _id), never new ones.
    """

    def __init__(self, path: str, offset: int = 0, lines: int = 0, inode: int | None = None):
        self.path = path
        # The checkpoint: the file (its inode: the kubelet renames a full one to <path>.<time> and the runtime
        # starts a new one at path), the offset in it, and the lines before that.
        self.inode, self.offset, self.lines = inode, offset, lines
        self._fd: int | None = None
        self._fd_inode: int | None = None
        self._read_to = offset  # past the last byte read
        self._order = lines  # lines numbered so far
        self._buffer = b""
        # stream -> (time of the last piece, the text of its line in pieces so far)
        self._pieces: dict[str, tuple[int, bytearray]] = {}

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> bool:
        """Open the checkpoint's file: the one at path, or, rotated meanwhile, its renamed copy (same inode). When
        that copy is gone too (compressed or removed), what it still held is lost: the file at path is read from
        its start, its lines numbered after the last one shipped."""
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            return False
        wanted = self.inode if self.inode is not None else current
        candidates = [self.path] if wanted == current else sorted(glob.glob(glob.escape(self.path) + ".*"))
        for candidate in candidates:
            if candidate.endswith(".gz"):
                continue
            try:
                fd = os.open(candidate, os.O_RDONLY)
            except FileNotFoundError:
                continue
            if os.fstat(fd).st_ino == wanted:
                self._fd, self._fd_inode = fd, wanted
                return True
            os.close(fd)
        log.warning("%s: the rotated file of the checkpoint is gone; reading the current one from its start", self.path)
        self.inode, self.offset, self._read_to = None, 0, 0
        return self._open()

    def _next_file(self) -> bool:
        """At the end of a rotated file: go on with the new one at path (numbers go on)."""
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            return False
        if current == self._fd_inode:
            return False
        self.close()
        self._read_to, self._buffer = 0, b""
        return self._open_current()

    def _open_current(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        self._fd, self._fd_inode = fd, os.fstat(fd).st_ino
        if not self._pieces:  # else the checkpoint stays in the old file, before the line in pieces
            self.inode, self.offset, self.lines = self._fd_inode, 0, self._order
        return True

    def read(self) -> list[CriLine]:
        """The whole lines written since the last read (none if the file is gone or has nothing new)."""
        if self._fd is None and not self._open():
            return []
        assert self._fd is not None
        data = os.pread(self._fd, READ_SIZE, self._read_to)
        if not data and self._next_file():
            assert self._fd is not None
            data = os.pread(self._fd, READ_SIZE, self._read_to)
        if not data:
            return []
        base = self._read_to - len(self._buffer)  # the file offset of the buffer's first byte
        self._read_to += len(data)
        self._buffer += data
        lines: list[CriLine] = []
        pos = 0
        while True:
            newline = self._buffer.find(b"\n", pos)
            if newline < 0:
                break
            record = parse_record(self._buffer[pos:newline])
            pos = newline + 1
            if record is not None:
                time_ns, stream, partial, text = record
                pieces = self._pieces.pop(stream, (0, bytearray()))[1]
                pieces += text
                if partial:
                    self._pieces[stream] = (time_ns, pieces)
                else:
                    self._pieces.pop(stream, None)
                    self._order += 1
                    lines.append(CriLine(stream, time_ns, bytes(pieces), self._order))
            if not self._pieces:
                self.inode, self.offset, self.lines = self._fd_inode, base + pos, self._order
        self._buffer = self._buffer[pos:]
        return lines

    @property
    def in_pieces(self) -> bool:
        return bool(self._pieces)

    def finish(self) -> list[CriLine]:
        """The lines left in pieces, once the container has ended: the runtime writes a last line without its
        newline as a partial record that no other record ever finishes."""
        lines = []
        for stream, (time_ns, pieces) in self._pieces.items():
            self._order += 1
            lines.append(CriLine(stream, time_ns, bytes(pieces), self._order))
        self._pieces.clear()
        if not self._buffer:
            self.inode, self.offset, self.lines = self._fd_inode, self._read_to, self._order
        return lines
