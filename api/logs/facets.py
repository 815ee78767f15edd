"""GET /v6/logs/facets/: the top values of a search's matches per field, with exact counts (search.facets)."""

from __future__ import annotations

import falcon

from api.errors import bad_request
from api.logs.filters import FILTER_PARAMS, parsed_filters
from api.logs.log_params import ERROR_503
from api.params import Param, choice_error
from api.routing import Operation, json_response
from api.schemas import component
from core.times import Clock
from jobs.log_target_store import LogTargetStore
from search import LogSearch
from search.facets import FIELDS

DEFAULT_SIZE = 10
MAX_SIZE = 100
FACET_PARAMS = FILTER_PARAMS + (
    Param(
        "fields",
        many=True,
        description="The fields to count, comma-separated or repeated (default all): job_type, job_type_version, "
        "stream, node (from the lines), status and error_category (the job's, from the database).",
    ),
    Param(
        "size",
        "integer",
        minimum=1,
        description=f"Values per field, the most frequent first (ties by value); default {DEFAULT_SIZE}, at most "
        f"{MAX_SIZE}.",
    ),
)
FACET_VALUES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "value": {"type": "string"},
            "count": {"type": "integer", "description": "The total of the same search filtered by this value"},
        },
        "required": ["value", "count"],
    },
}
FACETS = component(
    "LogFacets",
    {
        "type": "object",
        "properties": {
            "total": {"type": "integer", "description": "Exact number of matching lines"},
            "facets": {
                "type": "object",
                "description": "One list per asked field; a line without a value (or of an execution unknown to "
                "the database, for status and error_category) counts in none",
                "properties": dict.fromkeys(FIELDS, FACET_VALUES),
            },
        },
        "required": ["total", "facets"],
    },
)


class LogFacets:
    operations = {
        "GET": Operation(
            "Facets of a search (the filters of /v6/logs/): the top values of each field with exact counts",
            query=FACET_PARAMS,
            responses={200: json_response(FACETS), 503: ERROR_503},
            tags=("logs",),
        )
    }

    def __init__(self, log_targets: LogTargetStore, log_search: LogSearch, clock: Clock):
        self._log_targets = log_targets
        self._search = log_search
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q, filters = parsed_filters(req, FACET_PARAMS, self._clock, self._log_targets, self._search)
        size = DEFAULT_SIZE if q["size"] is None else q["size"]
        if size > MAX_SIZE:
            raise bad_request(f'Parameter "size" must be at most {MAX_SIZE}')
        fields = fields_of(q["fields"])
        total, facets = self._search.facets(filters, fields, size, self._log_targets)
        resp.media = {"total": total, "facets": facets}


def fields_of(raw: list[str] | None) -> list[str]:
    """The asked fields, each once, in the asked order (all when none); 400 naming "fields" for an unknown one."""
    if not raw:
        return list(FIELDS)
    asked = [name.strip() for item in raw for name in item.split(",")]
    if any(name not in FIELDS for name in asked):
        raise choice_error("fields", FIELDS)
    return list(dict.fromkeys(asked))
