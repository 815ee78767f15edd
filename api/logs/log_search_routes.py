"""Log search routes: lines across executions (/v6/logs/) and across one job's executions (/v6/jobs/{id}/logs/)."""

from __future__ import annotations

from dataclasses import replace

import falcon

from api.errors import bad_request, not_found
from api.logs.filters import filters_of
from api.logs.follow import FOLLOW_PARAM, SearchFollow
from api.logs.groups import GROUP_PARAM, GROUP_ROW, group_page
from api.logs.hit_links import add_hit_links
from api.logs.log_params import ERROR_429, ERROR_503, HIT, JOB_LOG_PARAMS, SEARCH_PARAMS
from api.logs.walk import CURSOR_PARAM, cursor_page
from api.pagination import envelope, page_of
from api.params import parse_query
from api.routing import Operation, Response, json_response
from api.schemas import ERROR, paginated
from core.times import Clock
from jobs.log_target_store import LogTargetStore
from search import LogSearch

LOG_SEARCH_PARAMS = SEARCH_PARAMS + (CURSOR_PARAM, GROUP_PARAM, FOLLOW_PARAM)


class LogSearchResource:
    operations = {
        "GET": Operation(
            "Search log lines across executions",
            query=LOG_SEARCH_PARAMS,
            responses={
                200: Response(
                    "Matching lines; with group=execution, executions; with follow=true, new matching lines as "
                    "Server-Sent Events (api/logs/follow.py: `id` a resume token for Last-Event-ID, `data` one hit)",
                    {"application/json": paginated({"anyOf": [HIT, GROUP_ROW]}), "text/event-stream": None},
                ),
                400: json_response(ERROR, "A bad parameter, or a Last-Event-ID that is not a follow's resume token"),
                410: json_response(ERROR, "The cursor expired; its detail ends with a link that starts the walk over"),
                429: ERROR_429,
                503: ERROR_503,
            },
            tags=("logs",),
        )
    }

    def __init__(
        self, log_targets: LogTargetStore, log_search: LogSearch, clock: Clock, follow: SearchFollow | None = None
    ):
        self._log_targets = log_targets
        self._search = log_search
        self._clock = clock
        self._follow = follow

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, LOG_SEARCH_PARAMS, self._clock)
        if q["follow"] and self._follow is not None:  # judges the job's facts per line: nothing to resolve here
            self._follow.respond(req, resp, q, filters_of(q, self._log_targets))
            return
        filters = self._search.resolve(filters_of(q, self._log_targets), self._log_targets)
        newest_first = q["order"] != "timestamp"
        if q["group"] is not None:
            if q["cursor"] is not None:
                raise bad_request('Parameter "group" cannot be combined with "cursor" (page through executions)')
            group_page(req, resp, self._search, self._log_targets, filters)
            return
        if q["cursor"] is not None:
            cursor_page(req, resp, self._search, self._log_targets, filters, newest_first)
            return
        page = page_of(req)
        count, hits = self._search.search(filters, page.offset, page.size, newest_first=newest_first)
        add_hit_links(req, self._log_targets, hits)
        resp.media = envelope(req, page, count, hits)


class JobLogs:
    operations = {
        "GET": Operation(
            "Log lines of every execution of one job (searchable like /v6/logs/)",
            query=JOB_LOG_PARAMS,
            responses={
                200: json_response(paginated(HIT)),
                400: json_response(ERROR, "A bad parameter"),
                404: json_response(ERROR, "No such job"),
                503: ERROR_503,
            },
            tags=("logs",),
        )
    }

    def __init__(self, log_targets: LogTargetStore, log_search: LogSearch, clock: Clock):
        self._log_targets = log_targets
        self._search = log_search
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        q = parse_query(req, JOB_LOG_PARAMS, self._clock)
        # The filters of /v6/logs/, checked and built by the same code; the job is the path's, applied through its
        # executions (also the legacy lines, which may lack scale_job_id).
        wanted = filters_of({**q, "job_id": None}, self._log_targets)
        page = page_of(req)
        targets = self._log_targets.log_targets_of_job(job_id)
        if targets is None:
            raise not_found()
        if q["exe_num"] is not None:
            targets = [t for t in targets if t.exe_num in q["exe_num"]]
        by_cluster = {t.cluster_id: t for t in targets if t.cluster_id}
        clusters = list(by_cluster)
        if wanted.cluster_ids is not None:  # job_exe_id: those of this job's executions
            asked = set(wanted.cluster_ids)
            clusters = [c for c in clusters if c in asked]
        filters = self._search.resolve(replace(wanted, cluster_ids=clusters), self._log_targets)
        count, hits = self._search.search(filters, page.offset, page.size, newest_first=q["order"] == "-timestamp")
        for hit in hits:  # the database knows these better than legacy documents do
            t = by_cluster.get(hit["scale_job_exe"])
            if t is not None:
                hit.update(
                    job_id=t.job_id,
                    exe_num=t.exe_num,
                    job_type={"name": t.job_type_name, "version": t.job_type_version},
                )
        add_hit_links(req, self._log_targets, hits)
        resp.media = envelope(req, page, count, hits)
