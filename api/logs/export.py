"""GET /v6/logs/export/: every match of a search, oldest first, streamed as NDJSON, CSV or text (flat memory)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import falcon
import orjson

from api.auth import client_address
from api.logs.filters import FILTER_PARAMS, parsed_filters
from api.logs.hit_links import with_job_facts
from api.logs.log_params import ERROR_429, ERROR_503, TEXT
from api.logs.long_reads import LongReads
from api.logs.streaming import guarded_stream
from api.params import Param
from api.routing import Operation, Response
from core.times import Clock
from jobs.log_target_store import LogTargetStore
from search import LogSearch

FLUSH_LINES = 1_000
CSV_COLUMNS = (
    "@timestamp",
    "job_id",
    "exe_num",
    "job_type",
    "job_type_version",
    "scale_job_exe",
    "scale_node",
    "stream",
    "scale_order_num",
    "message",
)
CONTENT_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8", "txt": "text/plain; charset=utf-8"}
EXPORT_PARAMS = FILTER_PARAMS + (
    Param(
        "format",
        "choice",
        choices=tuple(CONTENT_TYPES),
        description="ndjson (the default): one hit object a line, as /v6/logs/ results without highlight and links "
        "(with the job's status and error category); "
        f"csv: a header then one row a match, columns {', '.join(CSV_COLUMNS)}; txt: the messages, one a line.",
    ),
)


class LogExport:
    operations = {
        "GET": Operation(
            "Every match of a search (the filters of /v6/logs/), oldest first, streamed; no cap",
            query=EXPORT_PARAMS,
            responses={
                200: Response(
                    "The matches, in the line order of the execution logs (time, then order number)",
                    {"application/x-ndjson": None, "text/csv": TEXT, "text/plain": TEXT},
                    headers=("Content-Disposition",),
                ),
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
        clock: Clock,
        long_reads: LongReads,
        trust_forwarded_for: bool = False,
    ):
        self._log_targets = log_targets
        self._search = log_search
        self._clock = clock
        self._long_reads = long_reads  # an export holds a thread as long as a whole-log stream: the same caps
        self._trust_forwarded_for = trust_forwarded_for

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q, filters = parsed_filters(req, EXPORT_PARAMS, self._clock, self._log_targets, self._search)
        fmt = q["format"] or "ndjson"
        with self._long_reads.slot(req, resp, client_address(req, self._trust_forwarded_for), "export"):
            hits = self._search.walker().export(filters)
            first = next(hits, None)  # Elasticsearch failing is still a 503 here, before the body starts
            resp.content_type = CONTENT_TYPES[fmt]
            resp.set_header("Content-Disposition", f'attachment; filename="logs.{fmt}"')
            rows = with_job_facts(self._log_targets, hits if first is None else _chain(first, hits))
            resp.stream = guarded_stream(_body(fmt, rows), hits)


def _chain(first: dict, rest: Iterator[dict]) -> Iterator[dict]:
    yield first
    yield from rest


def _body(fmt: str, hits: Iterable[dict]) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(CSV_COLUMNS)
    for n, hit in enumerate(hits, 1):
        if fmt == "ndjson":
            out.write(orjson.dumps(hit).decode())
            out.write("\n")
        elif fmt == "txt":
            out.write(hit["message"])
            out.write("\n")
        else:
            job_type = hit["job_type"]
            writer.writerow(
                [hit["@timestamp"], hit["job_id"], hit["exe_num"], job_type["name"], job_type["version"]]
                + [hit[k] for k in ("scale_job_exe", "scale_node", "stream", "scale_order_num", "message")]
            )
        if n % FLUSH_LINES == 0:
            yield out.getvalue().encode("utf-8", "replace")
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode("utf-8", "replace")
