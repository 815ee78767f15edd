"""What Scale's job pages load besides jobs: the error catalogue (GET /v6/errors/, /v6/errors/{id}/; the Job Type
History page), the job type timeline (GET /v6/timeline/job-types/, Data -> Timeline), and, for the parts of Scale
this service does not have (recipes), the empty lists that are true here (the Metrics page loads
/v6/recipe-types/ when it opens)."""

from __future__ import annotations

from datetime import timedelta

import falcon

from api.errors import not_found
from api.jobs import job_schemas
from api.pagination import PAGE_PARAMS, envelope, page_of
from api.params import Param, check_window, parse_query
from api.routing import Operation, json_response
from api.scaleui.orders import parse_order
from api.schemas import component, paginated
from core.times import Clock
from jobs.scaleui.error_store import ERROR_ORDER_FIELDS, ErrorStore
from jobs.scaleui.timeline_store import TimelineStore
from jobs.statuses import ERROR_CATEGORIES

ERROR_PARAMS = (
    Param("started", "timestamp", description="Errors last modified at or after this time."),
    Param("ended", "timestamp", description="Errors last modified at or before this time."),
    Param("is_builtin", "boolean"),
    Param("job_type_name", many=True, description="Errors a job type's Seed manifest declares."),
    Param("name", many=True),
    Param("category", "choice", many=True, choices=ERROR_CATEGORIES),
    Param("order", many=True, description="Fields to order by (default name), '-' prefix for descending."),
)
ERROR = component(
    "ErrorDetails",
    job_schemas.obj(
        id={"type": "integer"},
        name={"type": "string"},
        title=job_schemas.N_STR,
        description=job_schemas.N_STR,
        job_type_name=job_schemas.N_STR,
        category={"enum": list(ERROR_CATEGORIES)},
        is_builtin={"type": "boolean"},
        should_be_retried={"type": "boolean"},
        created=job_schemas.DT,
        last_modified=job_schemas.DT,
    ),
)
# The window of the timeline when `started` is not given (Scale's UI always gives it).
DEFAULT_TIMELINE = timedelta(days=30)
TIMELINE_PARAMS = (
    Param("started", "timestamp", description="Jobs created from this time (default: 30 days ago; Scale required it)."),
    Param("ended", "timestamp"),
    Param("id", "integer", many=True, description="Job type ids (what Scale's UI sends)."),
    Param("job_type_id", "integer", many=True, description="Job type ids (what Scale's server read)."),
    Param("name", many=True),
    Param("job_type_name", many=True),
    Param("version", many=True),
    Param("job_type_version", many=True),
)
TIMELINE = component(
    "TimelineJobType",
    job_schemas.obj(
        job_type_id={"type": "integer"},
        name={"type": "string"},
        version={"type": "string"},
        title=job_schemas.N_STR,
        revision_num={"type": "integer"},
        results={
            "type": "array",
            "items": job_schemas.obj(date={"type": "string", "format": "date"}, count={"type": "integer"}),
        },
    ),
)


def error_json(e) -> dict:
    return {
        "id": e.id,
        "name": e.name,
        "title": e.title,
        "description": e.description,
        "job_type_name": e.job_type_name,
        "category": e.category,
        "is_builtin": e.is_builtin,
        "should_be_retried": e.should_be_retried,
        "created": e.created,
        "last_modified": e.last_modified,
    }


class Errors:
    operations = {
        "GET": Operation(
            "Scale's error catalogue: the built-in errors and those of the job types' Seed manifests",
            query=ERROR_PARAMS + PAGE_PARAMS,
            tags=("errors",),
            responses={200: json_response(paginated(ERROR))},
        )
    }

    def __init__(self, errors: ErrorStore, clock: Clock):
        self._errors = errors
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, ERROR_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        order = parse_order(q["order"], ERROR_ORDER_FIELDS)
        page = page_of(req)
        count, rows = self._errors.list_errors(
            q["started"],
            q["ended"],
            q["is_builtin"],
            q["job_type_name"],
            q["name"],
            q["category"],
            order,
            page.offset,
            page.size,
        )
        resp.media = envelope(req, page, count, [error_json(e) for e in rows])


class ErrorDetails:
    operations = {"GET": Operation("One error", tags=("errors",), responses={200: json_response(ERROR)})}

    def __init__(self, errors: ErrorStore):
        self._errors = errors

    def on_get(self, req: falcon.Request, resp: falcon.Response, error_id: int) -> None:
        error = self._errors.get_error(error_id)
        if error is None:
            raise not_found()
        resp.media = error_json(error)


def _either(q: dict, a: str, b: str) -> list | None:
    values = (q[a] or []) + (q[b] or [])
    return values if q[a] is not None or q[b] is not None else None


class TimelineJobTypes:
    operations = {
        "GET": Operation(
            "Per job type and day, how many of its jobs were created",
            query=TIMELINE_PARAMS + PAGE_PARAMS,
            tags=("timeline",),
            responses={200: json_response(paginated(TIMELINE))},
        )
    }

    def __init__(self, timeline: TimelineStore, clock: Clock):
        self._timeline = timeline
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, TIMELINE_PARAMS, self._clock)
        started = q["started"] or self._clock() - DEFAULT_TIMELINE
        check_window(started, q["ended"])
        page = page_of(req)
        rows = self._timeline.job_types(
            started,
            q["ended"],
            _either(q, "id", "job_type_id"),
            _either(q, "name", "job_type_name"),
            _either(q, "version", "job_type_version"),
        )
        results = [
            {
                "job_type_id": t.id,
                "name": t.name,
                "version": t.version,
                "title": t.title,
                "revision_num": t.revision_num,
                "results": [{"date": day, "count": n} for day, n in days],
            }
            for t, days in rows
        ]
        resp.media = envelope(req, page, len(results), results[page.offset : page.offset + page.size])


class NothingHere:
    """A list of something this service does not have (recipe types, ...): always empty, paged like every list,
    so a job page that loads it works."""

    def __init__(self, what: str):
        self.operations = {
            "GET": Operation(
                f"{what}: none here (this service runs jobs, not recipes)",
                query=PAGE_PARAMS,
                tags=("scale ui",),
                responses={200: json_response(paginated({"type": "object"}))},
            )
        }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        page = page_of(req)
        resp.media = envelope(req, page, 0, [])
