"""Log lines posted by remote executors as NDJSON: validated in one pass, then numbered and shipped.

Each line is {"message", "stream", "@timestamp"?, "scale_order_num"?, "scale_task"?}; a given @timestamp must lie
in the execution's posting window (ingest.posting_window). The whole body is
checked before anything is written (a bad line anywhere means nothing of the body is stored), without
holding it in memory: normalized lines wait in a temporary file that moves to disk past a few MB.
"""

from __future__ import annotations

import errno
import json
import logging
import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.times import parse_ns
from ingest.capture import Reserve
from ingest.documents import CapturedLine, Origin, bulk_pairs
from ingest.log_writer import SpoolBatch
from ingest.posting_window import PostingWindow
from ingest.shipper import Shipper

FIELDS = {"message", "stream", "@timestamp", "scale_order_num", "scale_task"}
STREAMS = ("stdout", "stderr")
INT64_MAX = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
BATCH_LINES = 5000
OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT)

log = logging.getLogger(__name__)


class BadLine(ValueError):
    def __init__(self, line: int, reason: str, too_large: bool = False):
        super().__init__(f"Line {line}: {reason}")
        self.line = line
        self.too_large = too_large


@dataclass(frozen=True)
class Refused(Exception):
    """Elasticsearch refused a line for good (the lines before it may be stored)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"Line {self.line}: refused by Elasticsearch: {self.reason}"


class SpoolFailed(Exception):
    """The lines could not be written to disk: out_of_space (retry later) or another disk error."""

    def __init__(self, out_of_space: bool):
        super().__init__("no disk space left for log lines" if out_of_space else "log lines could not be written")
        self.out_of_space = out_of_space


def parse_line(raw: bytes, number: int, max_message_bytes: int, window: PostingWindow | None = None) -> list | None:
    """[message, stream, time_ns|None, order|None, task|None] of one NDJSON line; None for a blank line.
    With a window, a given @timestamp outside it is refused."""
    if not raw.strip():
        return None
    try:
        item = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadLine(number, "not a JSON object") from None
    if not isinstance(item, dict):
        raise BadLine(number, "not a JSON object")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise BadLine(number, f'unknown field "{unknown[0]}"')
    message = item.get("message")
    if not isinstance(message, str):
        raise BadLine(number, '"message" must be a string')
    try:
        size = len(message.encode())
    except UnicodeEncodeError:  # a lone surrogate escape: keep the line, as a replacement character
        message = _SURROGATE.sub("\ufffd", message)
        size = len(message.encode())
    if size > max_message_bytes:
        raise BadLine(number, f'"message" is longer than {max_message_bytes} bytes', too_large=True)
    stream = item.get("stream")
    if stream not in STREAMS:
        raise BadLine(number, '"stream" must be "stdout" or "stderr"')
    time_ns = None
    if item.get("@timestamp") is not None:
        try:
            time_ns = parse_ns(item["@timestamp"]) if isinstance(item["@timestamp"], str) else None
        except ValueError:
            pass
        if time_ns is None:
            raise BadLine(number, '"@timestamp" must be an ISO-8601 date and time with a zone')
        refusal = window.refusal(time_ns) if window is not None else None
        if refusal is not None:
            raise BadLine(number, refusal)
    order = item.get("scale_order_num")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= INT64_MAX):
        raise BadLine(number, '"scale_order_num" must be a positive integer')
    task = item.get("scale_task")
    if task is not None and not isinstance(task, str):
        raise BadLine(number, '"scale_task" must be a string')
    return [message, stream, time_ns, order, task]


def receive(
    raw_lines: Iterable[bytes],
    *,
    shipper: Shipper,
    origin: Origin,
    reserve: Reserve,
    now_ns: Callable[[], int],
    max_message_bytes: int,
    wait: float,
    window: PostingWindow | None = None,
) -> int:
    """Validate, number and ship posted lines; returns how many were accepted (stored or durably spooled).

    Raises BadLine before anything is written, Refused when Elasticsearch turned a line down, SpoolFailed when
    the spool (or the temporary file) could not be written; lines spooled before that stay spooled.
    """
    try:
        return _receive(raw_lines, shipper, origin, reserve, now_ns, max_message_bytes, wait, window)
    except OSError as exc:
        log.error("could not spool log lines of %s: %s", origin.cluster_id, exc)
        raise SpoolFailed(out_of_space=exc.errno in OUT_OF_SPACE) from None


def _receive(
    raw_lines: Iterable[bytes],
    shipper: Shipper,
    origin: Origin,
    reserve: Reserve,
    now_ns: Callable[[], int],
    max_message_bytes: int,
    wait: float,
    window: PostingWindow | None,
) -> int:
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024) as held:
        count, unnumbered, last_ns = 0, 0, 0
        for number, raw in enumerate(raw_lines, 1):
            parsed = parse_line(raw, number, max_message_bytes, window)
            if parsed is None:
                continue
            if parsed[2] is None:  # the receive time, never going backwards within the body
                last_ns = parsed[2] = max(now_ns(), last_ns)
            unnumbered += parsed[3] is None
            parsed.append(number)
            held.write(json.dumps(parsed, ensure_ascii=False).encode() + b"\n")
            count += 1
        if not count:
            return 0
        # One block for the whole body: concurrent posts to one execution never share a number.
        next_order = reserve(unnumbered) if unnumbered else 0
        held.seek(0)
        sent: list[tuple[SpoolBatch, list[int]]] = []
        lines: list[CapturedLine] = []
        numbers: list[int] = []
        for raw in held:
            message, stream, time_ns, order, task, number = json.loads(raw)
            if order is None:
                order, next_order = next_order, next_order + 1
            lines.append(CapturedLine(message, stream, time_ns, order, task))
            numbers.append(number)
            if len(lines) >= BATCH_LINES:
                sent.append((shipper.submit(*bulk_pairs(shipper.prefix, origin, lines)), numbers))
                lines, numbers = [], []
        if lines:
            sent.append((shipper.submit(*bulk_pairs(shipper.prefix, origin, lines)), numbers))
    deadline = time.monotonic() + wait
    for batch, numbers in sent:
        # Spooled already; waiting only turns "accepted" into "stored" when Elasticsearch is up.
        if batch.finished.wait(max(0.0, deadline - time.monotonic())) and batch.errors:
            first = batch.errors[0]
            raise Refused(numbers[first["line"] - 1], str(first["error"]))
    return count
