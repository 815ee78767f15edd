"""One execution's log lines: paged, tailed, streamed whole or followed, in the format the client asks for.
Search across executions is in api/logs/log_search_routes.py, the viewer's page in api/viewer_routes.py.

Following holds a worker for at most settings.follow_max_seconds; an SSE client then reconnects with
Last-Event-ID and resumes exactly (run gunicorn with a threaded worker class so followers don't starve others).
Follows and whole-log streams take a slot of api/long_reads.LongReads first (429 past its caps) and give it back
when their body is closed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from itertools import chain
from urllib.parse import urlencode

import falcon

from api.auth import client_address
from api.errors import bad_request, not_found
from api.logs.context import CONTEXT_PARAMS, around_of
from api.logs.log_params import ERROR_410, ERROR_429, ERROR_503, JSON_BODY, READ_PARAMS, TEXT
from api.logs.long_reads import LongReads
from api.logs.streaming import guarded_stream
from api.pagination import base_url
from api.params import check_window, parse_query
from api.routing import Operation, Response, json_response
from api.schemas import ERROR
from core.times import Clock
from ingest.retention import expired
from jobs.log_target_store import LogTargetStore
from search import LogSearch, LogsExpired, Window, cursor
from search.follow import Followed, InvalidToken, Position, decode_token, is_token, start_of_execution
from search.lines import Line
from search.render import CONTENT_TYPES, Format, body, followed_body

log = logging.getLogger(__name__)

STREAM_FILTERS = {"stdout": ("stdout",), "stderr": ("stderr",), "combined": None}
MAX_LINES = 10_000
# Accept media type -> format, in our order of preference (a tie, or no Accept at all, picks the first).
FORMAT_OF_MEDIA = {
    "application/json": "json",
    "text/plain": "txt",
    "text/html": "html",
    "application/x-ndjson": "ndjson",
    "text/event-stream": "sse",
}


class ExecutionLogs:
    operations = {
        "GET": Operation(
            "Log lines of one execution (stdout, stderr or combined), oldest first",
            query=READ_PARAMS + CONTEXT_PARAMS,
            responses={
                200: Response(
                    "The lines. JSON (the default, format=json, or Accept: application/json) is Scale's body: "
                    "Elasticsearch's search response, each line a hit with the line in its _source; "
                    "format=array gives a plain JSON array of the lines instead.",
                    {
                        "application/json": JSON_BODY,
                        "application/x-ndjson": None,
                        "text/plain": TEXT,
                        "text/html": TEXT,
                        "text/event-stream": None,
                    },
                    headers=("Link", "X-Next-Cursor", "X-Anchor-Index"),
                ),
                204: Response("No lines match"),
                404: json_response(ERROR, "No such execution or stream, or no line numbered `around` in this read"),
                406: json_response(ERROR, "No acceptable format"),
                410: ERROR_410,
                429: ERROR_429,
                503: ERROR_503,
            },
            tags=("logs",),
        )
    }

    def __init__(
        self,
        log_targets: LogTargetStore,
        log_search: LogSearch,
        follow_max_seconds: float,
        clock: Clock,
        retention_days: int | None = None,
        long_reads: LongReads | None = None,
        trust_forwarded_for: bool = False,
    ):
        self._log_targets = log_targets
        self._search = log_search
        self._follow_max_seconds = follow_max_seconds
        self._clock = clock
        self._retention_days = retention_days
        self._long_reads = long_reads or LongReads(4, 8)
        self._trust_forwarded_for = trust_forwarded_for

    def on_get(self, req: falcon.Request, resp: falcon.Response, exe_id: int, stream: str) -> None:
        began = time.monotonic()
        if stream not in STREAM_FILTERS:
            raise not_found()
        q = parse_query(req, READ_PARAMS + CONTEXT_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        fmt_name = q["format"] or FORMAT_OF_MEDIA.get(req.client_prefers(list(FORMAT_OF_MEDIA)) or "")
        if fmt_name is None:
            raise falcon.HTTPNotAcceptable(
                description="None of the acceptable media types can be produced: " + ", ".join(FORMAT_OF_MEDIA)
            )
        for name in ("limit", "tail"):
            if q[name] is not None and q[name] > MAX_LINES:
                raise bad_request(f'Parameter "{name}" must be between 1 and {MAX_LINES}')
        after = self._after(req, q, q["follow"])
        around = around_of(q)
        if q["tail"] is not None and (
            (after is not None and not isinstance(after, Position)) or q["limit"] is not None
        ):
            raise bad_request('Parameter "tail" cannot be combined with "after" or "limit"')
        if q["follow"] and q["limit"] is not None:
            raise bad_request('Parameter "limit" cannot be combined with "follow"')
        target = self._log_targets.execution_for_logs(exe_id)
        if target is None:
            raise not_found()
        self._check_not_expired(target)
        resp.vary = ("Accept",)
        window = Window(STREAM_FILTERS[stream], q["started"], q["ended"])
        title = f"{target.cluster_id} {stream}"
        if around is not None:
            ctx = self._search.around(target.cluster_id, window, around.order_num, around.before, around.after)
            self._send(resp, ctx.lines, Format(fmt_name, title, began=began, context=True))
            resp.set_header("X-Anchor-Index", str(ctx.anchor))
        elif q["follow"]:
            with self._slot(req, resp, "follow"):
                self._follow(req, resp, target, window, after, q["tail"], fmt_name, title)
        elif q["tail"] is not None:
            fmt = Format(fmt_name, title, began=began)
            self._send(resp, self._search.tail(target.cluster_id, window, q["tail"]), fmt)
        elif q["limit"] is not None:
            assert not isinstance(after, Position)  # only a follow takes a follow's token (_after)
            lines, more = self._search.page(target.cluster_id, window, after, q["limit"])
            self._send(resp, lines, Format(fmt_name, title, began=began))
            if lines:
                resp.set_header("X-Next-Cursor", lines[-1].cursor)
            if more:
                resp.append_header("Link", f'<{next_url(req, lines[-1].cursor)}>; rel="next"')
        else:
            with self._slot(req, resp, "stream"):
                self._stream_all(resp, target.cluster_id, window, after, Format(fmt_name, title, began=began))

    def _slot(self, req: falcon.Request, resp: falcon.Response, kind: str):
        return self._long_reads.slot(req, resp, client_address(req, self._trust_forwarded_for), kind)

    def _check_not_expired(self, target) -> None:
        """410, not an endless 204 ("waiting for log output" in Scale's UI), for an execution older than the
        retention window none of whose lines is left: they were pruned and will never come."""
        if expired(target.started, self._clock().date(), self._retention_days) and not self._search.has_lines(
            target.cluster_id
        ):
            raise LogsExpired(
                f"The log of this execution has expired: log lines are kept {self._retention_days} days "
                f"(LOG_RETENTION_DAYS) and it started on {target.started.date().isoformat()}."
            )

    def _after(self, req: falcon.Request, q: dict, follow: bool) -> tuple | Position | None:
        # An SSE client reconnecting sends the last id it saw; it wins over the URL's original cursor. A follow
        # also takes the resume token of a follow's event (search.follow), and only a follow does.
        raw, name = req.get_header("Last-Event-ID"), "Last-Event-ID"
        if not raw:
            raw, name = q["after"], "after"
        if raw is None:
            return None
        try:
            if follow and is_token(raw):
                return decode_token(raw)
            return cursor.decode(raw)
        except (cursor.InvalidCursor, InvalidToken):
            raise bad_request(f"Invalid cursor for parameter: {name}") from None

    def _send(self, resp: falcon.Response, lines: list[Line], fmt: Format) -> None:
        if not lines:
            resp.status = falcon.HTTP_204
            return
        resp.content_type = CONTENT_TYPES[fmt.name]
        resp.data = b"".join(body(fmt, lines))

    def _stream_all(self, resp, cluster_id: str, window: Window, after, fmt: Format) -> None:
        lines = self._search.stream(cluster_id, window, after)
        first = next(lines, None)  # fails here, before the response starts, when Elasticsearch is down
        if first is None:
            resp.status = falcon.HTTP_204
            return
        resp.content_type = CONTENT_TYPES[fmt.name]
        resp.stream = guarded_stream(body(fmt, chain([first], lines)), lines)

    def _follow(self, req, resp, target, window: Window, after, tail: int | None, fmt_name: str, title: str) -> None:
        # Following writes SSE when asked for it, text lines for txt, NDJSON otherwise (json and array too).
        fmt_name = fmt_name if fmt_name in ("sse", "txt") else "ndjson"
        head: list[Followed] = []
        if isinstance(after, Position):  # a resume: the tail was for the first connection
            pos = after
        else:
            pos = start_of_execution(self._search.timing, after)
            if tail is not None:
                # The last lines searchable now, whenever they arrived; the follow goes on after them
                # (Position.tail), and each of their events resumes exactly after its line.
                read_at = time.time_ns() // 1_000_000
                lines = self._search.tail(target.cluster_id, window, tail)
                if lines:
                    pos = replace(pos, tail=(read_at, *lines[-1].key))
                    head = [Followed(line, replace(pos, catchup=line.key).token()) for line in lines]
                    pos = replace(pos, catchup=lines[-1].key)

        def ended_ago() -> float | None:
            current = self._log_targets.execution_for_logs(target.id)
            if current is None or not current.is_finished:
                return None
            return (self._clock() - current.ended).total_seconds() if current.ended else 0.0

        items = self._search.follow(target.cluster_id, window, pos, ended_ago, self._follow_max_seconds)
        first = next(items, None)  # the catch-up read: Elasticsearch being down is still a 503 here
        resp.content_type = CONTENT_TYPES[fmt_name]
        resp.set_header("Cache-Control", "no-cache")
        resp.set_header("X-Accel-Buffering", "no")  # proxies must pass events on at once
        resp.stream = guarded_stream(
            followed_body(Format(fmt_name, title, follow=True), chain(head, [] if first is None else [first], items)),
            items,
        )


def next_url(req: falcon.Request, next_cursor: str) -> str:
    query = [(k, v) for k, v in sorted(req.params.items()) if k != "after"]
    query.append(("after", next_cursor))
    path = getattr(req.context, "original_path", req.path)
    return f"{base_url(req)}{path}?{urlencode(query, doseq=True)}"
