"""GET /v6/logs/histogram/: how many lines of a search matched in each interval of time (search.histogram)."""

from __future__ import annotations

import falcon

from api.errors import bad_request
from api.logs.filters import FILTER_PARAMS, parsed_filters
from api.logs.log_params import ERROR_503
from api.params import Param
from api.routing import Operation, json_response
from api.schemas import component
from core.times import Clock
from jobs.log_target_store import LogTargetStore
from search import LogSearch
from search.histogram import MAX_AUTO_BUCKETS, MAX_BUCKETS, interval_ms

HISTOGRAM_PARAMS = FILTER_PARAMS + (
    Param(
        "interval",
        description=f"auto (the default: the shortest of 1ms, 10ms, ... 1s, 5s, ... 1d, 7d, ... giving at most "
        f"{MAX_AUTO_BUCKETS} buckets over the matches, or over started..ended when given), or an Elasticsearch "
        f"fixed interval: a whole number and ms, s, m, h or d (e.g. 90s, 2h), at most {MAX_BUCKETS} buckets.",
    ),
    Param("by", "choice", choices=("stream",), description="stream: each bucket also counts stdout, stderr, other."),
)
HISTOGRAM = component(
    "LogHistogram",
    {
        "type": "object",
        "properties": {
            "total": {"type": "integer", "description": "Exact number of matches: the buckets' counts plus undated"},
            "undated": {"type": "integer", "description": "Matches without @timestamp (in no bucket)"},
            "interval": {"type": "string", "description": "The fixed interval of the buckets"},
            "buckets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "start": {"type": "string", "format": "date-time"},
                        "count": {"type": "integer"},
                        "streams": {
                            "type": "object",
                            "properties": {k: {"type": "integer"} for k in ("stdout", "stderr", "other")},
                        },
                    },
                    "required": ["start", "count"],
                },
            },
        },
        "required": ["total", "undated", "interval", "buckets"],
    },
)


class LogHistogram:
    operations = {
        "GET": Operation(
            "Matches over time: a date histogram of a search (the filters of /v6/logs/), exact counts",
            query=HISTOGRAM_PARAMS,
            responses={200: json_response(HISTOGRAM), 503: ERROR_503},
            tags=("logs",),
        )
    }

    def __init__(self, log_targets: LogTargetStore, log_search: LogSearch, clock: Clock):
        self._log_targets = log_targets
        self._search = log_search
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q, filters = parsed_filters(req, HISTOGRAM_PARAMS, self._clock, self._log_targets, self._search)
        interval = None if q["interval"] in (None, "auto") else q["interval"]
        if interval is not None:
            try:
                interval_ms(interval)
            except ValueError:
                raise bad_request(
                    'Parameter "interval" must be auto or a whole number followed by ms, s, m, h or d (e.g. 30s)'
                ) from None
        h = self._search.histogram(filters, interval, q["by"] == "stream")
        resp.media = {"total": h.total, "undated": h.undated, "interval": h.interval, "buckets": h.buckets}
