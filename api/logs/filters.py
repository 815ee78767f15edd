"""The filters of /v6/logs/, shared by its search, cursor walk, export, histogram and facets."""

from __future__ import annotations

from urllib.parse import parse_qs

import falcon

from api.errors import bad_request
from api.logs.log_params import JOB_FACT_PARAMS, REGEX_PARAM, SEARCH_PARAMS, SEARCH_TEXT, WINDOW_PARAMS
from api.params import Param, check_window, parse_query
from core.times import Clock
from jobs.log_target_store import LogTargetStore
from search import LogSearch
from search.errors import SearchRefused
from search.finder import Filters
from search.patterns import check_pattern

MAX_TEXT = 1_000
MAX_EXE_IDS = 100  # each job_exe_id is a database lookup: a URL of thousands of them is not a search
FILTER_PARAMS = (
    SEARCH_TEXT,
    Param("job_id", "integer", many=True, minimum=1),
    Param("job_exe_id", "integer", many=True, minimum=1),
    Param("job_type_name", many=True),
    *JOB_FACT_PARAMS,
    Param("stream", "choice", many=True, choices=("stdout", "stderr")),
    Param("node", many=True),
    REGEX_PARAM,
) + WINDOW_PARAMS


def check_text(text: str | None) -> None:
    if text is not None and not text.strip():
        raise bad_request('Parameter "q" must not be blank')
    if text is not None and len(text) > MAX_TEXT:
        raise bad_request(f'Parameter "q" must be at most {MAX_TEXT} characters')


def filters_of(q: dict, log_targets: LogTargetStore) -> Filters:
    """The Filters of parsed parameters (FILTER_PARAMS); job_exe_id becomes the executions' cluster ids."""
    check_window(q["started"], q["ended"])
    check_text(q["q"])
    if q.get("regex") is not None:
        check_pattern(q["regex"])
    cluster_ids = None
    if q["job_exe_id"] is not None:
        if len(q["job_exe_id"]) > MAX_EXE_IDS:
            raise bad_request(f'Parameter "job_exe_id" may be given at most {MAX_EXE_IDS} times')
        targets = [log_targets.execution_for_logs(i) for i in q["job_exe_id"]]
        cluster_ids = [t.cluster_id for t in targets if t is not None and t.cluster_id]
    return Filters(
        text=q["q"],
        cluster_ids=cluster_ids,
        job_ids=q["job_id"],
        job_type_names=q["job_type_name"],
        streams=q["stream"],
        nodes=q["node"],
        started=q["started"],
        ended=q["ended"],
        regex=q.get("regex"),
        job_type_versions=q["job_type_version"],
        statuses=q["status"],
        error_categories=q["error_category"],
    )


def parsed_filters(
    req: falcon.Request, params: tuple[Param, ...], clock: Clock, targets: LogTargetStore, search: LogSearch
):
    """(parsed parameters, their Filters with status and error_category resolved to executions)."""
    q = parse_query(req, params, clock)
    return q, search.resolve(filters_of(q, targets), targets)


# A saved search keeps the query string of /v6/logs/ (or of the search page, which writes the same parameters).
# Its filters are checked when it is saved; the rest (order, page, group) is the page's and is kept, unused here.
SAVED_QUERY_NAMES = frozenset(p.name for p in SEARCH_PARAMS) | {"group", "cursor"}
MAX_SAVED_QUERY = 4000


class QueryString:
    """A query string read as Falcon reads a request's (repeated names, blank values kept)."""

    def __init__(self, query: str):
        self._values = parse_qs(query.lstrip("?"), keep_blank_values=True)

    def names(self) -> set[str]:
        return set(self._values)

    def get_param_as_list(self, name: str) -> list[str] | None:
        return self._values.get(name)


def saved_query_filters(query: str, clock: Clock, targets: LogTargetStore) -> Filters:
    """The Filters of a saved query string; 400 naming the parameter when it could not be searched. Its status and
    error_category are not resolved yet (LogSearch.resolve): the alert checker resolves them in each window."""
    if len(query) > MAX_SAVED_QUERY:
        raise bad_request(f'Parameter "query" must be at most {MAX_SAVED_QUERY} characters')
    qs = QueryString(query)
    unknown = sorted(qs.names() - SAVED_QUERY_NAMES)
    if unknown:
        raise bad_request(f'Parameter "query": unknown search parameter "{unknown[0]}"')
    try:
        return filters_of(parse_query(qs, FILTER_PARAMS, clock), targets)
    except falcon.HTTPError as exc:
        raise bad_request(f'Parameter "query": {exc.description}') from None
    except SearchRefused as exc:
        raise bad_request(f'Parameter "query": {exc}') from None
