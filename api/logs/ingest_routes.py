"""POST /v6/job-executions/{id}/logs/: remote executors append NDJSON log lines to an execution."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import falcon

from api.auth import check_node
from api.errors import not_found
from api.routing import Operation, json_response
from api.schemas import ERROR, component
from core.times import Clock
from ingest.documents import Origin
from ingest.posting_window import posting_window
from ingest.receive import receive
from ingest.shipper import Shipper
from jobs.log_target_store import LogTargetStore
from settings import Settings

POSTED_LINE = component(
    "PostedLogLine",
    {
        "type": "object",
        "required": ["message", "stream"],
        "additionalProperties": False,
        "properties": {
            "message": {"type": "string"},
            "stream": {"type": "string", "enum": ["stdout", "stderr"]},
            "@timestamp": {
                "type": "string",
                "format": "date-time",
                "description": (
                    "Capture time (up to nanoseconds); default: when the line was received. Must lie within the "
                    "execution's life (from when it was registered until it ended, or now), give or take "
                    "LOG_CLOCK_SKEW_SECONDS"
                ),
            },
            "scale_order_num": {
                "type": "integer",
                "minimum": 1,
                "description": "Position in the execution's log; default: the next free numbers",
            },
            "scale_task": {"type": "string"},
        },
    },
)
ACCEPTED = component(
    "LogLinesAccepted",
    {
        "type": "object",
        "required": ["accepted"],
        "properties": {
            "accepted": {
                "type": "integer",
                "minimum": 0,
                "description": "Lines stored in Elasticsearch or durably spooled for it",
            }
        },
    },
)
READ_SIZE = 64 * 1024


class ExecutionLogIngest:
    executor_methods = frozenset({"POST"})  # an executor token may send log lines (api/auth.py)
    operations = {
        "POST": Operation(
            "Append log lines (NDJSON, one PostedLogLine per line) to a job execution",
            body=POSTED_LINE,
            body_media="application/x-ndjson",
            responses={
                202: json_response(ACCEPTED, "The lines are stored or durably spooled"),
                400: json_response(ERROR, "A line is malformed, or its @timestamp lies outside the execution's life"),
                409: json_response(ERROR, "The execution ended more than LOG_GRACE_SECONDS ago: its log is closed"),
                411: json_response(ERROR, "A body without Content-Length on a server that cannot end it"),
                413: json_response(ERROR, "The body or one line is too large"),
                503: json_response(ERROR, "The log spool cannot store lines right now (a disk error); retry later"),
                507: json_response(
                    ERROR,
                    "The log spool's disk is full; retry later (lines of earlier batches "
                    "of a very large body may be stored)",
                ),
            },
            tags=("logs",),
        )
    }

    def __init__(self, log_targets: LogTargetStore, log_writer: Shipper, settings: Settings, clock: Clock):
        self._log_targets = log_targets
        self._writer = log_writer
        self._settings = settings
        self._clock = clock

    def on_post(self, req: falcon.Request, resp: falcon.Response, exe_id: int) -> None:
        target = self._log_targets.execution_for_logs(exe_id)
        if target is None:
            raise not_found()
        check_node(req, target.node)
        settings = self._settings
        window = posting_window(
            target,
            self._clock(),
            settings.log_clock_skew_seconds,
            settings.log_grace_seconds,
            settings.log_retention_days,
        )
        limit = self._settings.max_body_bytes
        if req.content_length is not None and req.content_length > limit:
            raise too_large(f"The body is larger than {limit} bytes")
        origin = Origin(
            cluster_id=target.cluster_id,
            node=target.node or "",
            host=target.node or "",
            job_type=target.job_type_name,
            job_type_version=target.job_type_version,
            job_id=str(target.job_id),
            exe_num=str(target.exe_num),
        )
        accepted = receive(
            body_lines(req, limit, self._settings.max_log_line_bytes),
            shipper=self._writer,
            origin=origin,
            reserve=lambda count: self._log_targets.reserve_log_sequence(exe_id, count),
            now_ns=self._now_ns,
            max_message_bytes=self._settings.max_log_line_bytes,
            wait=self._settings.elasticsearch_timeout,
            window=window,
        )
        resp.status = falcon.HTTP_202
        resp.media = {"accepted": accepted}

    def _now_ns(self) -> int:
        now = self._clock()
        return int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1000


def too_large(detail: str) -> falcon.HTTPError:
    return falcon.HTTPContentTooLarge(description=detail)


def body_lines(req: falcon.Request, max_body: int, max_line: int) -> Iterator[bytes]:
    """The body's lines, read in chunks as they arrive; 413 past max_body bytes or past what max_line allows
    for one line. (Falcon's BoundedStream.readline miscounts what is left, so lines are split here.)"""
    stream: Any  # falcon's BoundedStream, or the server's input stream
    if req.content_length is not None:
        stream = req.bounded_stream
    elif req.env.get("wsgi.input_terminated"):  # a chunked body the server ends for us
        stream = req.stream
    else:
        raise falcon.HTTPLengthRequired(description="A Content-Length header is required.")
    # A message of max_line bytes may grow up to six times when JSON-escaped (\u0000), plus the other fields.
    line_limit = max_line * 6 + 64 * 1024
    total = 0
    number = 0
    pending = bytearray()
    while chunk := stream.read(READ_SIZE):
        total += len(chunk)
        if total > max_body:
            raise too_large(f"The body is larger than {max_body} bytes")
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) >= 0:
            number += 1
            if end - start > line_limit:
                raise too_large(f"Line {number}: longer than {line_limit} bytes")
            yield bytes(pending[start:end])
            start = end + 1
        del pending[:start]
        if len(pending) > line_limit:
            raise too_large(f"Line {number + 1}: longer than {line_limit} bytes")
    if pending:
        yield bytes(pending)
