"""Job execution routes: list and details, and the executor's start (POST) and finish (PATCH)."""
from __future__ import annotations

import falcon

from api import job_schemas as S
from api.errors import not_found
from api.job_body import as_object, as_str, as_timestamp, field, json_body, one_of, store_errors
from api.job_routes import ERROR_409, ERROR_413, ERROR_415
from api.job_serialize import execution_details, execution_item
from api.pagination import PAGE_PARAMS, base_url, envelope, page_of
from api.params import Param, parse_query
from api.routing import Operation, json_response
from api.schemas import paginated
from jobs.models import ERROR_CATEGORIES, EXE_STATUSES
from jobs.records import ExecutionQuery
from search.links import kibana_discover_url, log_url

EXECUTION_PARAMS = (
    Param("status", "choice", many=True, choices=EXE_STATUSES),
    Param("node_id", "integer", many=True),
    Param("error_id", "integer", many=True),
    Param("error_category", "choice", many=True, choices=ERROR_CATEGORIES),
)
END_STATUSES = ("COMPLETED", "FAILED", "CANCELED")


class ExecutionLinks:
    """Execution details plus where to read its log: our API, and Kibana's Discover when configured."""

    def __init__(self, kibana_url: str | None):
        self._kibana_url = kibana_url

    def details(self, req: falcon.Request, e) -> dict:
        return {**execution_details(e), "log_url": log_url(base_url(req), e.id),
                "kibana_url": kibana_discover_url(self._kibana_url, e.cluster_id, e.started, e.ended)}


class JobExecutions:
    operations = {
        "GET": Operation("A job's executions, newest first", query=EXECUTION_PARAMS + PAGE_PARAMS, tags=("executions",),
                         responses={200: json_response(paginated(S.EXECUTION_ITEM))}),
        "POST": Operation("Start the next execution of a QUEUED job on a node", body=S.EXECUTION_START,
                          tags=("executions",), responses={
                              201: json_response(S.EXECUTION_DETAILS, "Created", headers=("Location",)),
                              409: ERROR_409, 413: ERROR_413, 415: ERROR_415}),
    }

    def __init__(self, store, clock, links: ExecutionLinks, max_body: int):
        self._store = store
        self._clock = clock
        self._links = links
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        q = parse_query(req, EXECUTION_PARAMS, self._clock)
        page = page_of(req)
        query = ExecutionQuery(statuses=q["status"], node_ids=q["node_id"], error_ids=q["error_id"],
                               error_categories=q["error_category"])
        count, rows = self._store.list_executions(job_id, query, page.offset, page.size)
        resp.media = envelope(req, page, count, [execution_item(e) for e in rows])

    def on_post(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        body = json_body(req, self._max_body)
        node = field(body, "node", as_str, required=True)
        started = field(body, "started", as_timestamp(self._clock()))
        with store_errors():
            claimed = self._store.start_execution(job_id, node, started)
        resp.status = falcon.HTTP_201
        resp.location = f"{base_url(req)}/v6/job-executions/{claimed.id}/"
        resp.media = self._links.details(req, self._store.get_execution(claimed.id))


class ExecutionByNum:
    operations = {"GET": Operation("One execution of a job by its number", tags=("executions",),
                                   responses={200: json_response(S.EXECUTION_DETAILS)})}

    def __init__(self, store, links: ExecutionLinks):
        self._store = store
        self._links = links

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int, exe_num: int) -> None:
        execution = self._store.get_execution(job_id=job_id, exe_num=exe_num)
        if execution is None:
            raise not_found()
        resp.media = self._links.details(req, execution)


class ExecutionById:
    operations = {
        "GET": Operation("One execution by its id", tags=("executions",),
                         responses={200: json_response(S.EXECUTION_DETAILS)}),
        "PATCH": Operation("End a RUNNING execution and move its job", body=S.EXECUTION_FINISH,
                           tags=("executions",), responses={
                               200: json_response(S.EXECUTION_DETAILS), 409: ERROR_409, 413: ERROR_413,
                               415: ERROR_415}),
    }

    def __init__(self, store, clock, links: ExecutionLinks, max_body: int):
        self._store = store
        self._clock = clock
        self._links = links
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response, exe_id: int) -> None:
        execution = self._store.get_execution(exe_id)
        if execution is None:
            raise not_found()
        resp.media = self._links.details(req, execution)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, exe_id: int) -> None:
        body = json_body(req, self._max_body)
        status = field(body, "status", one_of(END_STATUSES), required=True)
        ended = field(body, "ended", as_timestamp(self._clock()))
        error = field(body, "error", as_object)
        if error is not None and "name" not in error:
            field(error, "category", one_of(ERROR_CATEGORIES), required=True)
            field(error, "title", as_str, required=True)
            field(error, "description", as_str)
        elif error is not None:
            field(error, "name", as_str, required=True)
        output = field(body, "output", as_object)
        task_results = field(body, "task_results", as_object)
        with store_errors():
            self._store.finish_execution(exe_id, status, ended, error, output, task_results)
        resp.media = self._links.details(req, self._store.get_execution(exe_id))
