"""The v6 job routes: list, create, details, input files, cancel, requeue; add_job_routes registers them all."""
from __future__ import annotations

import falcon

from api import job_schemas as S
from api.errors import bad_request, not_found
from api.job_body import (as_bool, as_int, as_int32, as_object, as_str, as_timestamp, field, json_body, list_of,
                          one_of, store_errors)
from api.job_serialize import job_details, job_item, scale_file
from api.pagination import PAGE_PARAMS, base_url, envelope, page_of
from api.params import Param, check_window, parse_query
from api.routing import ID, Operation, json_response
from api.schemas import ERROR, paginated
from jobs.models import ERROR_CATEGORIES, JOB_STATUSES
from jobs.orderings import JOB_ORDER_FIELDS
from jobs.records import InputFileQuery, JobQuery, OrderKey

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
    Param("order", many=True, description="Fields to order by, '-' prefix for descending; relations with '__'."),
    Param("status", "choice", many=True, choices=JOB_STATUSES),
    Param("job_id", "integer", many=True),
    Param("job_type_id", "integer", many=True),
    Param("job_type_name", many=True),
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
ERROR_409 = json_response(ERROR, "The job is not in a state that allows this")
ERROR_413 = json_response(ERROR, "The body is larger than MAX_BODY_BYTES")
ERROR_415 = json_response(ERROR, "The body is not JSON")
# exe_num is a 32-bit column (PostgreSQL): a larger number is an unknown execution, 404 before the resource runs.
EXE_NUM = "int(min=1, max=2147483647)"


def parse_order(values: list[str] | None) -> tuple[OrderKey, ...]:
    keys = []
    for value in values or ():
        name = value[1:] if value.startswith("-") else value
        if name not in JOB_ORDER_FIELDS:
            raise bad_request(f'Invalid order field: "{name}"')
        keys.append(OrderKey(name, value.startswith("-")))
    return tuple(keys)


class Jobs:
    operations = {
        "GET": Operation("List jobs", query=JOB_LIST_PARAMS + PAGE_PARAMS, responses={200: json_response(paginated(S.JOB_ITEM))},
                         tags=("jobs",)),
        "POST": Operation("Queue a new job", body=S.JOB_CREATE, tags=("jobs",), responses={
            201: json_response(S.JOB_DETAILS, "Created", headers=("Location",)),
            404: json_response(ERROR, "Unknown job type"), 413: ERROR_413, 415: ERROR_415}),
    }

    def __init__(self, store, clock, max_body: int):
        self._store = store
        self._clock = clock
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, JOB_LIST_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        check_window(q["source_started"], q["source_ended"])
        order = parse_order(q["order"])
        page = page_of(req)
        tasks = (q["source_task"] or []) + (q["source_tasks"] or []) or None
        query = JobQuery(
            started=q["started"], ended=q["ended"], source_started=q["source_started"], source_ended=q["source_ended"],
            source_sensor_classes=q["source_sensor_class"], source_sensors=q["source_sensor"],
            source_collections=q["source_collection"], source_tasks=tasks, statuses=q["status"],
            job_ids=q["job_id"], job_type_ids=q["job_type_id"], job_type_names=q["job_type_name"],
            batch_ids=q["batch_id"], recipe_ids=q["recipe_id"], error_categories=q["error_category"],
            error_ids=q["error_id"], is_superseded=q["is_superseded"], order=order)
        count, jobs = self._store.list_jobs(query, page.offset, page.size)
        resp.media = envelope(req, page, count, [job_item(row, files) for row, files in jobs])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, self._max_body)
        job_type_id = field(body, "job_type_id", as_int, required=True)
        data = field(body, "input", as_object, required=True)
        with store_errors():
            job_id = self._store.create_job(job_type_id, data, body.get("configuration"))
        resp.status = falcon.HTTP_201
        resp.location = f"{base_url(req)}/v6/jobs/{job_id}/"
        resp.media = job_details(self._store.get_job(job_id))


class JobDetails:
    operations = {"GET": Operation("Job details", tags=("jobs",), responses={200: json_response(S.JOB_DETAILS)})}

    def __init__(self, store):
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        detail = self._store.get_job(job_id)
        if detail is None:
            raise not_found()
        resp.media = job_details(detail)


class JobInputFiles:
    operations = {"GET": Operation("A job's input files", query=INPUT_FILE_PARAMS + PAGE_PARAMS, tags=("jobs",),
                                   responses={200: json_response(paginated(S.SCALE_FILE))})}

    def __init__(self, store, clock):
        self._store = store
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        q = parse_query(req, INPUT_FILE_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        page = page_of(req)
        query = InputFileQuery(started=q["started"], ended=q["ended"], time_field=q["time_field"] or "last_modified",
                               file_names=q["file_name"], job_inputs=q["job_input"])
        found = self._store.input_files(job_id, query, page.offset, page.size)
        if found is None:
            raise not_found()
        count, files = found
        resp.media = envelope(req, page, count, [scale_file(f) for f in files])


def bulk_query(body: dict, now) -> JobQuery:
    """The filters shared by cancel and requeue, read from the JSON body."""
    timestamp = as_timestamp(now)
    started, ended = field(body, "started", timestamp), field(body, "ended", timestamp)
    check_window(started, ended)
    status = field(body, "status", one_of(JOB_STATUSES))
    job_types = field(body, "job_types", list_of(as_object))
    return JobQuery(
        started=started, ended=ended, statuses=[status] if status else None,
        job_ids=field(body, "job_ids", list_of(as_int)),
        job_type_ids=field(body, "job_type_ids", list_of(as_int)),
        job_types=[(field(t, "name", as_str, True), field(t, "version", as_str, True)) for t in job_types]
        if job_types is not None else None,
        job_type_names=field(body, "job_type_names", list_of(as_str)),
        batch_ids=field(body, "batch_ids", list_of(as_int)),
        recipe_ids=field(body, "recipe_ids", list_of(as_int)),
        error_categories=field(body, "error_categories", list_of(one_of(ERROR_CATEGORIES))),
        error_ids=field(body, "error_ids", list_of(as_int)),
        is_superseded=field(body, "is_superseded", as_bool))


class JobsCancel:
    operations = {"POST": Operation("Cancel the matching jobs", body=S.CANCEL, tags=("jobs",), responses={
        202: json_response(S.MATCHED, "Accepted"), 413: ERROR_413, 415: ERROR_415})}

    def __init__(self, store, clock, max_body: int):
        self._store = store
        self._clock = clock
        self._max_body = max_body

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = bulk_query(json_body(req, self._max_body), self._clock())
        with store_errors():
            matched = self._store.cancel_jobs(query)
        resp.status = falcon.HTTP_202
        resp.media = {"matched": matched}


class JobsRequeue:
    operations = {"POST": Operation("Requeue the matching FAILED and CANCELED jobs", body=S.REQUEUE, tags=("jobs",),
                                    responses={202: json_response(S.MATCHED, "Accepted"), 413: ERROR_413,
                                               415: ERROR_415})}

    def __init__(self, store, clock, max_body: int):
        self._store = store
        self._clock = clock
        self._max_body = max_body

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, self._max_body)
        query = bulk_query(body, self._clock())
        priority = field(body, "priority", as_int32)
        with store_errors():
            matched = self._store.requeue_jobs(query, priority)
        resp.status = falcon.HTTP_202
        resp.media = {"matched": matched}


def add_job_routes(app: falcon.App, routes, job_store, settings, clock) -> None:
    from api.job_execution_routes import ExecutionById, ExecutionByNum, ExecutionLinks, JobExecutions
    from api.job_type_routes import JobTypeDetails, JobTypes

    max_body = settings.max_body_bytes

    routes.add(app, "/v6/job-types/", JobTypes(job_store, clock, max_body))
    routes.add(app, "/v6/job-types/{name}/{version}/", JobTypeDetails(job_store))
    routes.add(app, "/v6/jobs/", Jobs(job_store, clock, max_body))
    routes.add(app, "/v6/jobs/cancel/", JobsCancel(job_store, clock, max_body))
    routes.add(app, "/v6/jobs/requeue/", JobsRequeue(job_store, clock, max_body))
    routes.add(app, f"/v6/jobs/{{job_id:{ID}}}/", JobDetails(job_store))
    routes.add(app, f"/v6/jobs/{{job_id:{ID}}}/input_files/", JobInputFiles(job_store, clock))
    links = ExecutionLinks(settings.kibana_url)
    routes.add(app, f"/v6/jobs/{{job_id:{ID}}}/executions/", JobExecutions(job_store, clock, links, max_body))
    routes.add(app, f"/v6/jobs/{{job_id:{ID}}}/executions/{{exe_num:{EXE_NUM}}}/", ExecutionByNum(job_store, links))
    routes.add(app, f"/v6/job-executions/{{exe_id:{ID}}}/", ExecutionById(job_store, clock, links, max_body))
