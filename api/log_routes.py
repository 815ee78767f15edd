"""Log routes: one execution's lines (paged, tailed, streamed, followed), search across executions, the viewer.

Following holds a worker for at most settings.follow_max_seconds; an SSE client then reconnects with
Last-Event-ID and resumes exactly (run gunicorn with a threaded worker class so followers don't starve others).
"""
from __future__ import annotations

import logging
from itertools import chain
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlencode

import falcon

from api.errors import bad_request, not_found, unavailable
from api.pagination import PAGE_PARAMS, base_url, envelope, page_of
from api.params import Param, check_window, parse_query
from api.routing import ID, Operation, Response, json_response
from api.schemas import component, paginated
from search import LogSearch, LogsUnavailable, Window, cursor
from search.finder import Filters
from search.lines import Line
from search.render import CONTENT_TYPES, Format, body, followed_body

log = logging.getLogger(__name__)

STREAMS = {"stdout": ("stdout",), "stderr": ("stderr",), "combined": None}
MAX_LINES = 10_000
MAX_TEXT = 1_000
VIEWER = Path(__file__).resolve().parent / "viewer"
# Accept media type -> format, in our order of preference when the client has none.
MEDIA = (("application/json", "json"), ("text/plain", "txt"), ("text/html", "html"),
         ("application/x-ndjson", "ndjson"), ("text/event-stream", "sse"))

LINE = component("LogLine", {"type": "object", "properties": {
    "message": {"type": "string"}, "@timestamp": {"type": "string", "format": "date-time"},
    "scale_order_num": {"type": ["integer", "null"]}, "scale_task": {"type": ["string", "null"]},
    "scale_job_exe": {"type": ["string", "null"]}, "scale_node": {"type": ["string", "null"]},
    "stream": {"type": ["string", "null"]}}})
HIT = component("LogSearchHit", {"allOf": [LINE, {"type": "object", "properties": {
    "job_id": {"type": ["integer", "string", "null"]}, "exe_num": {"type": ["integer", "string", "null"]},
    "job_type": {"type": "object", "properties": {"name": {"type": ["string", "null"]},
                                                  "version": {"type": ["string", "null"]}}},
    "highlight": {"type": ["string", "null"], "description": "HTML-escaped fragment with <em> around matches"}}}]})

WINDOW_PARAMS = (
    Param("started", "timestamp", description="Lines at or after this time (ISO-8601 or a duration ago)."),
    Param("ended", "timestamp", description="Lines at or before this time."),
)
READ_PARAMS = (
    Param("format", "choice", choices=("json", "txt", "html", "ndjson"),
          description="Response format; overrides Accept (which may also ask for text/event-stream)."),
    Param("limit", "integer", minimum=1, description="At most this many lines (1-10000); without it, the whole log."),
    Param("after", description="Opaque cursor: start strictly after the line it names (X-Next-Cursor, SSE id)."),
    Param("tail", "integer", minimum=1, description="Only the last N lines (1-10000), oldest first."),
    Param("follow", "boolean", description="Keep streaming new lines until the execution ends (SSE or NDJSON)."),
) + WINDOW_PARAMS
SEARCH_TEXT = Param("q", description='Words that must all appear; "quoted words" must appear as a phrase.')
SEARCH_PARAMS = (
    SEARCH_TEXT,
    Param("job_id", "integer", many=True, minimum=1),
    Param("job_exe_id", "integer", many=True, minimum=1),
    Param("job_type_name", many=True),
    Param("stream", "choice", many=True, choices=("stdout", "stderr")),
    Param("node", many=True),
    Param("order", "choice", choices=("timestamp", "-timestamp"), description="Default -timestamp (newest first)."),
) + WINDOW_PARAMS + PAGE_PARAMS
JOB_LOG_PARAMS = (
    SEARCH_TEXT,
    Param("exe_num", "integer", many=True, minimum=1),
    Param("stream", "choice", many=True, choices=("stdout", "stderr")),
    Param("order", "choice", choices=("timestamp", "-timestamp"), description="Default timestamp (oldest first)."),
) + WINDOW_PARAMS + PAGE_PARAMS

_LINES = {"type": "array", "items": LINE}
_TEXT = {"type": "string"}
_ERROR_503 = json_response({"$ref": "#/components/schemas/Error"}, "Elasticsearch is unavailable")


def add_log_routes(app: falcon.App, routes, job_store, log_search: LogSearch, settings, clock) -> None:
    routes.add(app, f"/v6/job-executions/{{exe_id:{ID}}}/logs/{{stream}}/",
               ExecutionLogs(job_store, log_search, settings, clock))
    routes.add(app, "/v6/logs/", LogSearchResource(job_store, log_search, clock))
    routes.add(app, f"/v6/jobs/{{job_id:{ID}}}/logs/", JobLogs(job_store, log_search, clock))
    routes.add(app, f"/logs/{{job_exe_id:{ID}}}", ViewerPage(job_store))
    routes.add(app, "/viewer/{name}", ViewerAsset())


class ExecutionLogs:
    operations = {"GET": Operation(
        "Log lines of one execution (stdout, stderr or combined), oldest first",
        query=READ_PARAMS,
        responses={
            200: Response("The lines", {"application/json": _LINES, "application/x-ndjson": None,
                                        "text/plain": _TEXT, "text/html": _TEXT, "text/event-stream": None},
                          headers=("Link", "X-Next-Cursor")),
            204: Response("No lines match"),
            406: json_response({"$ref": "#/components/schemas/Error"}, "No acceptable format"),
            503: _ERROR_503,
        },
        tags=("logs",))}

    def __init__(self, job_store, log_search: LogSearch, settings, clock):
        self._jobs = job_store
        self._search = log_search
        self._settings = settings
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, exe_id: int, stream: str) -> None:
        if stream not in STREAMS:
            raise not_found()
        q = parse_query(req, READ_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        fmt_name = q["format"] or negotiate(req.get_header("Accept"))
        if fmt_name is None:
            raise falcon.HTTPNotAcceptable(description="None of the acceptable media types can be produced: "
                                           + ", ".join(m for m, _ in MEDIA))
        for name in ("limit", "tail"):
            if q[name] is not None and q[name] > MAX_LINES:
                raise bad_request(f'Parameter "{name}" must be between 1 and {MAX_LINES}')
        after = self._after(req, q)
        if q["tail"] is not None and (after is not None or q["limit"] is not None):
            raise bad_request('Parameter "tail" cannot be combined with "after" or "limit"')
        if q["follow"] and q["limit"] is not None:
            raise bad_request('Parameter "limit" cannot be combined with "follow"')
        target = self._jobs.execution_for_logs(exe_id)
        if target is None:
            raise not_found()
        resp.vary = ("Accept",)
        window = Window(STREAMS[stream], q["started"], q["ended"])
        title = f"{target.cluster_id} {stream}"
        try:
            if q["follow"]:
                self._follow(req, resp, target, window, after, q["tail"], fmt_name, title)
            elif q["tail"] is not None:
                self._send(resp, self._search.tail(target.cluster_id, window, q["tail"]), fmt_name, title)
            elif q["limit"] is not None:
                lines, more = self._search.page(target.cluster_id, window, after, q["limit"])
                self._send(resp, lines, fmt_name, title)
                if lines:
                    resp.set_header("X-Next-Cursor", lines[-1].cursor)
                if more:
                    resp.append_header("Link", f'<{next_url(req, lines[-1].cursor)}>; rel="next"')
            else:
                self._stream_all(resp, target.cluster_id, window, after, fmt_name, title)
        except LogsUnavailable as exc:
            raise unavailable(exc.detail) from exc

    def _after(self, req: falcon.Request, q: dict) -> tuple | None:
        # An SSE client reconnecting sends the last id it saw; it wins over the URL's original cursor.
        raw, name = req.get_header("Last-Event-ID"), "Last-Event-ID"
        if not raw:
            raw, name = q["after"], "after"
        if raw is None:
            return None
        try:
            return cursor.decode(raw)
        except ValueError:
            raise bad_request(f"Invalid cursor for parameter: {name}") from None

    def _send(self, resp: falcon.Response, lines: list[Line], fmt_name: str, title: str) -> None:
        if not lines:
            resp.status = falcon.HTTP_204
            return
        resp.content_type = CONTENT_TYPES[fmt_name]
        resp.data = b"".join(body(Format(fmt_name, title), lines))

    def _stream_all(self, resp, cluster_id: str, window: Window, after, fmt_name: str, title: str) -> None:
        lines = self._search.stream(cluster_id, window, after)
        first = next(lines, None)  # fails here, before the response starts, when Elasticsearch is down
        if first is None:
            resp.status = falcon.HTTP_204
            return
        resp.content_type = CONTENT_TYPES[fmt_name]
        resp.stream = guarded_stream(body(Format(fmt_name, title), chain([first], lines)), lines)

    def _follow(self, req, resp, target, window: Window, after, tail: int | None, fmt_name: str, title: str) -> None:
        # Following writes SSE when asked for it, text lines for txt, NDJSON otherwise.
        fmt_name = fmt_name if fmt_name in ("sse", "txt") else "ndjson"
        head: list[Line] = []
        if tail is not None:
            head = self._search.tail(target.cluster_id, window, tail)
            after = head[-1].key if head else None

        def ended_ago() -> float | None:
            current = self._jobs.execution_for_logs(target.id)
            if current is None or not current.is_finished:
                return None
            return (self._clock() - current.ended).total_seconds() if current.ended else 0.0

        items = self._search.follow(target.cluster_id, window, after, ended_ago, self._settings.follow_max_seconds)
        first = next(items, None)  # the catch-up read: Elasticsearch being down is still a 503 here
        resp.content_type = CONTENT_TYPES[fmt_name]
        resp.set_header("Cache-Control", "no-cache")
        resp.set_header("X-Accel-Buffering", "no")  # proxies must pass events on at once
        resp.stream = guarded_stream(followed_body(Format(fmt_name, title, follow=True),
                                                   chain(head, [] if first is None else [first], items)), items)


class LogSearchResource:
    operations = {"GET": Operation(
        "Search log lines across executions", query=SEARCH_PARAMS,
        responses={200: json_response(paginated(HIT)), 503: _ERROR_503}, tags=("logs",))}

    def __init__(self, job_store, log_search: LogSearch, clock):
        self._jobs = job_store
        self._search = log_search
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, SEARCH_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        check_text(q["q"])
        page = page_of(req)
        cluster_ids = None
        if q["job_exe_id"] is not None:
            targets = [self._jobs.execution_for_logs(i) for i in q["job_exe_id"]]
            cluster_ids = [t.cluster_id for t in targets if t is not None and t.cluster_id]
        filters = Filters(text=q["q"], cluster_ids=cluster_ids, job_ids=q["job_id"],
                          job_type_names=q["job_type_name"], streams=q["stream"], nodes=q["node"],
                          started=q["started"], ended=q["ended"])
        count, hits = run_search(self._search, filters, page, q["order"] != "timestamp")
        resp.media = envelope(req, page, count, hits)


class JobLogs:
    operations = {"GET": Operation(
        "Log lines of every execution of one job (searchable like /v6/logs/)", query=JOB_LOG_PARAMS,
        responses={200: json_response(paginated(HIT)), 503: _ERROR_503}, tags=("logs",))}

    def __init__(self, job_store, log_search: LogSearch, clock):
        self._jobs = job_store
        self._search = log_search
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        q = parse_query(req, JOB_LOG_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        check_text(q["q"])
        page = page_of(req)
        targets = self._jobs.log_targets_of_job(job_id)
        if targets is None:
            raise not_found()
        if q["exe_num"] is not None:
            targets = [t for t in targets if t.exe_num in q["exe_num"]]
        by_cluster = {t.cluster_id: t for t in targets if t.cluster_id}
        filters = Filters(text=q["q"], cluster_ids=list(by_cluster), streams=q["stream"],
                          started=q["started"], ended=q["ended"])
        count, hits = run_search(self._search, filters, page, q["order"] == "-timestamp")
        for hit in hits:  # the database knows these better than legacy documents do
            t = by_cluster.get(hit["scale_job_exe"])
            if t is not None:
                hit.update(job_id=t.job_id, exe_num=t.exe_num,
                           job_type={"name": t.job_type_name, "version": t.job_type_version})
        resp.media = envelope(req, page, count, hits)


class ViewerPage:
    operations = {"GET": Operation("The log viewer page of one execution",
                                   responses={200: Response("HTML page", {"text/html": _TEXT})}, tags=("logs",))}

    def __init__(self, job_store):
        self._jobs = job_store

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_exe_id: int) -> None:
        if self._jobs.execution_for_logs(job_exe_id) is None:
            raise not_found()
        serve_static(resp, "index.html")


class ViewerAsset:
    operations = {"GET": Operation("Static files of the log viewer", responses={200: Response("The file")})}

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        serve_static(resp, name)


ASSET_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8"}
# The viewer runs only its own script and never renders log text as markup; this backs that up.
VIEWER_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'"


def serve_static(resp: falcon.Response, name: str) -> None:
    path = VIEWER / name
    if "/" in name or name.startswith(".") or path.suffix not in ASSET_TYPES or not path.is_file():
        raise not_found()
    resp.content_type = ASSET_TYPES[path.suffix]
    resp.set_header("Content-Security-Policy", VIEWER_CSP)
    resp.set_header("X-Content-Type-Options", "nosniff")
    resp.data = path.read_bytes()


def run_search(log_search: LogSearch, filters: Filters, page, newest_first: bool) -> tuple[int, list[dict]]:
    try:
        return log_search.search(filters, page.offset, page.size, newest_first)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    except LogsUnavailable as exc:
        raise unavailable(exc.detail) from exc


def check_text(text: str | None) -> None:
    if text is not None and not text.strip():
        raise bad_request('Parameter "q" must not be blank')
    if text is not None and len(text) > MAX_TEXT:
        raise bad_request(f'Parameter "q" must be at most {MAX_TEXT} characters')


def negotiate(accept: str | None) -> str | None:
    """The format for an Accept header: the best quality wins, ties go to our order; None = 406."""
    if not accept or not accept.strip():
        return "json"
    ranges = []
    for part in accept.split(","):
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind, _, sub = media.lower().partition("/")
        ranges.append((kind, sub, quality))
    best, best_quality = None, 0.0
    for media, name in MEDIA:
        kind, sub = media.split("/")
        quality, specificity = 0.0, -1
        for r_kind, r_sub, r_quality in ranges:  # the most specific matching range decides
            level = 2 if (r_kind, r_sub) == (kind, sub) else 1 if (r_kind, r_sub) == (kind, "*") \
                else 0 if (r_kind, r_sub) == ("*", "*") else -1
            if level > specificity:
                quality, specificity = r_quality, level
        if quality > best_quality:
            best, best_quality = name, quality
    return best


def next_url(req: falcon.Request, next_cursor: str) -> str:
    query = [(k, v) for k, v in sorted(req.params.items()) if k != "after"]
    query.append(("after", next_cursor))
    path = getattr(req.context, "original_path", req.path)
    return f"{base_url(req)}{path}?{urlencode(query, doseq=True)}"


def guarded_stream(chunks: Iterable[bytes], source: Iterator) -> Iterator[bytes]:
    """The body after the response started: an Elasticsearch failure can only cut it short."""
    try:
        yield from chunks
    except LogsUnavailable as exc:
        log.warning("log stream cut short: %s", exc.detail)
    finally:
        close = getattr(source, "close", None)
        if close:
            close()  # ends the point-in-time at once when the client goes away
