"""GET /v6/job-types/status/ (the dashboard), /v6/job-types/running/ (Running Jobs) and /v6/queue/status/ (Queued
Jobs), in Scale v6's shapes: each item is {"job_type": <job type base>, ...its figures}, paged like every list."""

from __future__ import annotations

from datetime import timedelta

import falcon

from api.jobs import job_schemas
from api.jobs.job_serialize import job_type_base
from api.pagination import PAGE_PARAMS, envelope, page_of
from api.params import Param, check_window, parse_query
from api.routing import Operation, json_response
from api.scaleui.quirks import drop_javascript_nulls
from api.schemas import component, paginated
from core.times import Clock
from jobs.scaleui.job_type_status_store import JobTypeStatusStore
from jobs.statuses import ERROR_CATEGORIES, JOB_STATUSES

# Scale's window when `started` is not given: the last three hours (PT3H0M0S).
DEFAULT_WINDOW = timedelta(hours=3)
STATUS_PARAMS = (
    Param("started", "timestamp", description="Start of the window (default: three hours ago)."),
    Param("ended", "timestamp", description="End of the window (default: none)."),
    Param("is_active", "boolean", description="Only active (true) or deprecated (false) job types."),
)
N_DT = {"type": ["string", "null"], "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0}
STATUS_COUNT = component(
    "JobTypeStatusCount",
    job_schemas.obj(
        status={"enum": list(JOB_STATUSES)},
        count=COUNT,
        most_recent=N_DT,
        category={"enum": [*ERROR_CATEGORIES, None]},
    ),
)
JOB_TYPE_STATUS = component(
    "JobTypeStatus",
    job_schemas.obj(job_type=job_schemas.JOB_TYPE_BASE, job_counts={"type": "array", "items": STATUS_COUNT}),
)
RUNNING = component(
    "JobTypeRunningStatus", job_schemas.obj(job_type=job_schemas.JOB_TYPE_BASE, count=COUNT, longest_running=N_DT)
)
QUEUED = component(
    "QueueStatus",
    job_schemas.obj(
        job_type=job_schemas.JOB_TYPE_BASE, count=COUNT, longest_queued=N_DT, highest_priority={"type": "integer"}
    ),
)


class JobTypesStatus:
    operations = {
        "GET": Operation(
            "Each job type with its jobs counted by status and error category: every RUNNING job, and the others"
            " whose status changed in the window",
            query=STATUS_PARAMS + PAGE_PARAMS,
            tags=("job types",),
            responses={200: json_response(paginated(JOB_TYPE_STATUS))},
        )
    }

    def __init__(self, status: JobTypeStatusStore, clock: Clock):
        self._status = status
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, STATUS_PARAMS, self._clock)
        started = q["started"] or self._clock() - DEFAULT_WINDOW
        check_window(started, q["ended"])
        page = page_of(req)
        total, rows = self._status.job_type_counts(started, q["ended"], q["is_active"], page.offset, page.size)
        results = [
            {
                "job_type": job_type_base(row.job_type),
                "job_counts": [
                    {"status": c.status, "count": c.count, "most_recent": c.most_recent, "category": c.category}
                    for c in row.job_counts
                ],
            }
            for row in rows
        ]
        resp.media = envelope(req, page, total, results)


class JobTypesRunning:
    operations = {
        "GET": Operation(
            "Job types with running jobs: how many, and since when the longest running one runs",
            query=PAGE_PARAMS,
            tags=("job types",),
            responses={200: json_response(paginated(RUNNING))},
        )
    }

    def __init__(self, status: JobTypeStatusStore):
        self._status = status

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        drop_javascript_nulls(req)  # its page_size is null when its table has no row count yet
        page = page_of(req)
        total, rows = self._status.running(page.offset, page.size)
        results = [
            {"job_type": job_type_base(r.job_type), "count": r.count, "longest_running": r.longest_running}
            for r in rows
        ]
        resp.media = envelope(req, page, total, results)


class QueueStatus:
    operations = {
        "GET": Operation(
            "Job types with queued jobs: how many, since when the longest queued one waits, the highest priority",
            query=PAGE_PARAMS,
            tags=("queue",),
            responses={200: json_response(paginated(QUEUED))},
        )
    }

    def __init__(self, status: JobTypeStatusStore):
        self._status = status

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = page_of(req)
        total, rows = self._status.queued(page.offset, page.size)
        results = [
            {
                "job_type": job_type_base(r.job_type),
                "count": r.count,
                "longest_queued": r.longest_queued,
                "highest_priority": r.highest_priority,
            }
            for r in rows
        ]
        resp.media = envelope(req, page, total, results)


LOAD_PARAMS = (
    Param("started", "timestamp"),
    Param("ended", "timestamp"),
    Param("job_type_id", "integer", many=True),
)
LOAD = component(
    "JobLoad",
    job_schemas.obj(time=job_schemas.DT, pending_count=COUNT, queued_count=COUNT, running_count=COUNT),
)


class JobLoad:
    """GET /v6/load/ (the load charts of the dashboard and Queued Jobs). Scale sampled the load every minute into a
    table; this service keeps no samples, so it answers the one measurement it has: now, from the job counters,
    when now lies in the window asked for (else nothing)."""

    operations = {
        "GET": Operation(
            "Jobs pending, queued and running: the current figures, as one point in time",
            query=LOAD_PARAMS + PAGE_PARAMS,
            tags=("queue",),
            responses={200: json_response(paginated(LOAD))},
        )
    }

    def __init__(self, status: JobTypeStatusStore, clock: Clock):
        self._status = status
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, LOAD_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        page = page_of(req)
        now = self._clock()
        points = []
        if (q["started"] is None or q["started"] <= now) and (q["ended"] is None or now <= q["ended"]):
            load = self._status.load_now(q["job_type_id"])
            points.append(
                {
                    "time": now,
                    "pending_count": load["PENDING"],
                    "queued_count": load["QUEUED"],
                    "running_count": load["RUNNING"],
                }
            )
        resp.media = envelope(req, page, len(points), points[page.offset : page.offset + page.size])
