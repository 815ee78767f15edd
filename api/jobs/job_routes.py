"""The v6 job routes: list, create, details, input files, cancel, requeue."""

from __future__ import annotations

from typing import Any

import falcon

from api.errors import bad_request, not_found
from api.jobs import job_schemas
from api.jobs.job_serialize import job_details, job_item, scale_file
from api.pagination import PAGE_PARAMS, base_url, envelope, page_of
from api.params import Param, check_window, parse_query
from api.routing import Operation, json_response
from api.schemas import ERROR, ERROR_413, ERROR_415, paginated
from core.times import Clock
from jobs.job_store import DEFAULT_USER, JobStore
from jobs.orderings import JOB_ORDER_FIELDS, order_field
from jobs.records import InputFileQuery, JobQuery, OrderKey
from jobs.statuses import ERROR_CATEGORIES, JOB_STATUSES

JOB_LIST_PARAMS = (
    Param("started", "timestamp", description="Jobs last modified at or after this time."),
    Param("ended", "timestamp", description="Jobs last modified at or before this time."),
    Param("source_started", "timestamp"),
    Param("source_ended", "timestamp"),
    Param("source_sensor_class", many=True),
    Param("source_sensor", many=True),
    Param("source_collection", many=True),
    Param("source_task", many=True),
    Param("source_tasks", many=True, description="Same as source_task."),
    Param(
        "order",
        many=True,
        description="Fields to order by, '-' prefix for descending; a relation's column as relation__column or "
        "relation.column (error.category, node.hostname); a bare relation name orders by its id.",
    ),
    Param("status", "choice", many=True, choices=JOB_STATUSES),
    Param("job_id", "integer", many=True),
    Param("job_type_id", "integer", many=True),
    Param("job_type_name", many=True),
    Param(
        "job_type_version",
        many=True,
        description="With job_type_name: one version for each name, in the same order (name and version pairs); "
        "alone: job types of these versions.",
    ),
    Param("batch_id", "integer", many=True),
    Param("recipe_id", "integer", many=True),
    Param("error_category", "choice", many=True, choices=ERROR_CATEGORIES),
    Param("error_id", "integer", many=True),
    Param("is_superseded", "boolean"),
)
INPUT_FILE_PARAMS = (
    Param("started", "timestamp"),
    Param("ended", "timestamp"),
    Param("time_field", "choice", choices=("source", "data", "last_modified")),
    Param("file_name", many=True),
    Param("job_input", many=True),
)


def parse_order(values: list[str] | None) -> tuple[OrderKey, ...]:
    keys = []
    for value in values or ():
        name = value[1:] if value.startswith("-") else value
        if order_field(name) not in JOB_ORDER_FIELDS:
            raise bad_request(f'Invalid order field: "{name}"')
        keys.append(OrderKey(order_field(name), value.startswith("-")))
    return tuple(keys)


class Jobs:
    operations = {
        "GET": Operation(
            "List jobs",
            query=JOB_LIST_PARAMS + PAGE_PARAMS,
            responses={200: json_response(paginated(job_schemas.JOB_ITEM))},
            tags=("jobs",),
        ),
        "POST": Operation(
            "Queue a new job",
            body=job_schemas.JOB_CREATE.ref,
            tags=("jobs",),
            responses={
                201: json_response(job_schemas.JOB_DETAILS, "Created", headers=("Location",)),
                404: json_response(ERROR, "Unknown job type"),
                413: ERROR_413,
                415: ERROR_415,
            },
        ),
    }

    def __init__(self, jobs: JobStore, clock: Clock, max_body: int, read_only_list_rows: int | None = None):
        self._jobs = jobs
        self._clock = clock
        self._max_body = max_body
        self._read_only_list_rows = read_only_list_rows

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, JOB_LIST_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        check_window(q["source_started"], q["source_ended"])
        order = parse_order(q["order"])
        page = page_of(req)
        tasks = (q["source_task"] or []) + (q["source_tasks"] or []) or None
        query = JobQuery(
            started=q["started"],
            ended=q["ended"],
            source_started=q["source_started"],
            source_ended=q["source_ended"],
            source_sensor_classes=q["source_sensor_class"],
            source_sensors=q["source_sensor"],
            source_collections=q["source_collection"],
            source_tasks=tasks,
            statuses=q["status"],
            job_ids=q["job_id"],
            job_type_ids=q["job_type_id"],
            job_type_names=q["job_type_name"],
            job_type_versions=q["job_type_version"],
            batch_ids=q["batch_id"],
            recipe_ids=q["recipe_id"],
            error_categories=q["error_category"],
            error_ids=q["error_id"],
            is_superseded=q["is_superseded"],
            order=order,
        )
        identity = req.context.identity  # staff may ask for any page and order; the rest only cheap ones
        bound = None if identity is not None and identity.is_staff else self._read_only_list_rows
        count, jobs = self._jobs.list_jobs(query, page.offset, page.size, bound)
        resp.media = envelope(req, page, count, [job_item(row, files) for row, files in jobs])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = job_schemas.JOB_CREATE.read(req, self._max_body, self._clock())
        job_id = self._jobs.create_job(
            body["job_type_id"], body["input"], body["configuration"], user=req.context.user or DEFAULT_USER
        )
        resp.status = falcon.HTTP_201
        resp.location = f"{base_url(req)}/v6/jobs/{job_id}/"
        created = self._jobs.get_job(job_id)
        if created is None:  # deleted in between: nothing to show
            raise not_found()
        resp.media = job_details(created)


class JobDetails:
    operations = {
        "GET": Operation("Job details", tags=("jobs",), responses={200: json_response(job_schemas.JOB_DETAILS)})
    }

    def __init__(self, jobs: JobStore):
        self._jobs = jobs

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        detail = self._jobs.get_job(job_id)
        if detail is None:
            raise not_found()
        resp.media = job_details(detail)


class JobInputFiles:
    operations = {
        "GET": Operation(
            "A job's input files",
            query=INPUT_FILE_PARAMS + PAGE_PARAMS,
            tags=("jobs",),
            responses={200: json_response(paginated(job_schemas.SCALE_FILE))},
        )
    }

    def __init__(self, jobs: JobStore, clock: Clock):
        self._jobs = jobs
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        q = parse_query(req, INPUT_FILE_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        page = page_of(req)
        query = InputFileQuery(
            started=q["started"],
            ended=q["ended"],
            time_field=q["time_field"] or "last_modified",
            file_names=q["file_name"],
            job_inputs=q["job_input"],
        )
        found = self._jobs.input_files(job_id, query, page.offset, page.size)
        if found is None:
            raise not_found()
        count, files = found
        resp.media = envelope(req, page, count, [scale_file(f) for f in files])


def bulk_query(body: dict[str, Any]) -> JobQuery:
    """The filters shared by cancel and requeue, from their parsed body."""
    check_window(body["started"], body["ended"])
    status, job_types = body["status"], body["job_types"]
    return JobQuery(
        started=body["started"],
        ended=body["ended"],
        statuses=[status] if status else None,
        job_ids=body["job_ids"],
        job_type_ids=body["job_type_ids"],
        job_types=[(t["name"], t["version"]) for t in job_types] if job_types is not None else None,
        job_type_names=body["job_type_names"],
        batch_ids=body["batch_ids"],
        recipe_ids=body["recipe_ids"],
        error_categories=body["error_categories"],
        error_ids=body["error_ids"],
        is_superseded=body["is_superseded"],
    )


class JobsCancel:
    operations = {
        "POST": Operation(
            "Cancel the matching jobs",
            body=job_schemas.CANCEL.ref,
            tags=("jobs",),
            responses={202: json_response(job_schemas.MATCHED, "Accepted"), 413: ERROR_413, 415: ERROR_415},
        )
    }

    def __init__(self, jobs: JobStore, clock: Clock, max_body: int):
        self._jobs = jobs
        self._clock = clock
        self._max_body = max_body

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = bulk_query(job_schemas.CANCEL.read(req, self._max_body, self._clock()))
        matched = self._jobs.cancel_jobs(query, user=req.context.user or DEFAULT_USER)
        resp.status = falcon.HTTP_202
        resp.media = {"matched": matched}


class JobsRequeue:
    operations = {
        "POST": Operation(
            "Requeue the matching FAILED and CANCELED jobs",
            body=job_schemas.REQUEUE.ref,
            tags=("jobs",),
            responses={202: json_response(job_schemas.MATCHED, "Accepted"), 413: ERROR_413, 415: ERROR_415},
        )
    }

    def __init__(self, jobs: JobStore, clock: Clock, max_body: int):
        self._jobs = jobs
        self._clock = clock
        self._max_body = max_body

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = job_schemas.REQUEUE.read(req, self._max_body, self._clock())
        matched = self._jobs.requeue_jobs(bulk_query(body), body["priority"], user=req.context.user or DEFAULT_USER)
        resp.status = falcon.HTTP_202
        resp.media = {"matched": matched}
