"""`group=execution` on /v6/logs/: one row per execution that has matches (search.groups), with its job's facts
from the database and its first matching line's links."""

from __future__ import annotations

import falcon

from api.logs.hit_links import add_hit_links
from api.logs.log_params import HIT
from api.pagination import envelope, page_of
from api.params import Param
from api.schemas import component
from jobs.log_target_store import LogTargetStore
from search import LogSearch
from search.finder import Filters

GROUP_PARAM = Param(
    "group",
    "choice",
    choices=("execution",),
    description="execution: one row per execution with matches (its job, job type, job status, the number of "
    "matching lines and its first matching line with context_url), ordered by that line's time; offset paging "
    "(page, page_size) over the first 10,000 executions; count is exact up to 40,000 executions.",
)
GROUP_ROW = component(
    "LogSearchExecution",
    {
        "type": "object",
        "properties": {
            "job_exe_id": {"type": ["integer", "null"]},
            "cluster_id": {"type": "string"},
            "job_id": {"type": ["integer", "null"]},
            "exe_num": {"type": ["integer", "null"]},
            "job_status": {"type": ["string", "null"]},
            "error_category": {"type": ["string", "null"], "description": "The category of the job's error"},
            "job_type": {
                "type": ["object", "null"],
                "properties": {"name": {"type": ["string", "null"]}, "version": {"type": ["string", "null"]}},
            },
            "matches": {"type": "integer"},
            "first_match": HIT,
        },
        "required": ["cluster_id", "matches", "first_match"],
    },
)
UNKNOWN_RUN = {
    "job_exe_id": None,
    "job_id": None,
    "exe_num": None,
    "job_status": None,
    "error_category": None,
    "job_type": None,
}


def group_page(req: falcon.Request, resp: falcon.Response, search: LogSearch, targets: LogTargetStore, f: Filters):
    page = page_of(req)
    total, rows = search.executions_matching(f, page.offset, page.size)
    runs = targets.runs_of_clusters([r["cluster_id"] for r in rows])
    add_hit_links(req, targets, [r["first_match"] for r in rows])
    results = [{**UNKNOWN_RUN, **runs.get(r["cluster_id"], {}), **r} for r in rows]
    resp.media = envelope(req, page, max(total, len(results) + page.offset), results)
