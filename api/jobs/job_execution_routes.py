"""Job execution routes: list and details, and the executor's start (POST) and finish (PATCH)."""

from __future__ import annotations

import falcon

from api.auth import bound_node, check_node
from api.errors import not_found
from api.jobs import job_schemas
from api.jobs.job_serialize import execution_details, execution_item
from api.pagination import PAGE_PARAMS, base_url, envelope, page_of
from api.params import Param, parse_query
from api.routing import Operation, json_response
from api.schemas import ERROR_409, ERROR_413, ERROR_415, paginated
from core.times import Clock
from jobs.execution_store import ExecutionStore
from jobs.records import ExecutionQuery, OutputFile
from jobs.statuses import ERROR_CATEGORIES, EXE_STATUSES
from search.links import kibana_discover_url, log_url

JOB_STATUS_HEADER = "X-Job-Status"
EXECUTION_PARAMS = (
    Param("status", "choice", many=True, choices=EXE_STATUSES),
    Param("node_id", "integer", many=True),
    Param("error_id", "integer", many=True),
    Param("error_category", "choice", many=True, choices=ERROR_CATEGORIES),
)


class ExecutionLinks:
    """Execution details plus where to read its log: our API, and Kibana's Discover when configured."""

    def __init__(self, kibana_url: str | None):
        self._kibana_url = kibana_url

    def details(self, req: falcon.Request, e) -> dict:
        return {
            **execution_details(e),
            "log_url": log_url(base_url(req), e.id),
            "kibana_url": kibana_discover_url(self._kibana_url, e.cluster_id, e.started, e.ended),
        }


class JobExecutions:
    executor_methods = frozenset({"POST"})  # an executor token may start executions (api/auth.py)
    operations = {
        "GET": Operation(
            "A job's executions, newest first",
            query=EXECUTION_PARAMS + PAGE_PARAMS,
            tags=("executions",),
            responses={200: json_response(paginated(job_schemas.EXECUTION_ITEM))},
        ),
        "POST": Operation(
            "Start the next execution of a QUEUED job on a node",
            body=job_schemas.EXECUTION_START.ref,
            tags=("executions",),
            responses={
                201: json_response(job_schemas.EXECUTION_DETAILS, "Created", headers=("Location",)),
                409: ERROR_409,
                413: ERROR_413,
                415: ERROR_415,
            },
        ),
    }

    def __init__(self, executions: ExecutionStore, clock: Clock, links: ExecutionLinks, max_body: int):
        self._executions = executions
        self._clock = clock
        self._links = links
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        q = parse_query(req, EXECUTION_PARAMS, self._clock)
        page = page_of(req)
        query = ExecutionQuery(
            statuses=q["status"], node_ids=q["node_id"], error_ids=q["error_id"], error_categories=q["error_category"]
        )
        count, rows = self._executions.list_executions(job_id, query, page.offset, page.size)
        resp.media = envelope(req, page, count, [execution_item(e) for e in rows])

    def on_post(self, req: falcon.Request, resp: falcon.Response, job_id: int) -> None:
        body = job_schemas.EXECUTION_START.read(req, self._max_body, self._clock())
        check_node(req, body["node"])
        claimed = self._executions.start_execution(job_id, body["node"], body["started"])
        resp.status = falcon.HTTP_201
        resp.location = f"{base_url(req)}/v6/job-executions/{claimed.id}/"
        resp.media = self._links.details(req, self._executions.get_execution(claimed.id))


class ExecutionByNum:
    operations = {
        "GET": Operation(
            "One execution of a job by its number",
            tags=("executions",),
            responses={200: json_response(job_schemas.EXECUTION_DETAILS)},
        )
    }

    def __init__(self, executions: ExecutionStore, links: ExecutionLinks):
        self._executions = executions
        self._links = links

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: int, exe_num: int) -> None:
        execution = self._executions.get_execution(job_id=job_id, exe_num=exe_num)
        if execution is None:
            raise not_found()
        resp.media = self._links.details(req, execution)


class ExecutionById:
    executor_methods = frozenset({"PATCH"})  # an executor token may end executions and report their outputs
    operations = {
        "GET": Operation(
            "One execution by its id",
            tags=("executions",),
            responses={200: json_response(job_schemas.EXECUTION_DETAILS)},
        ),
        "PATCH": Operation(
            "End a RUNNING execution and move its job; record the files it produced",
            body=job_schemas.EXECUTION_FINISH.ref,
            tags=("executions",),
            responses={
                # X-Job-Status: the job's status after this (QUEUED again when a failure is retried).
                200: json_response(job_schemas.EXECUTION_DETAILS, headers=(JOB_STATUS_HEADER,)),
                409: ERROR_409,
                413: ERROR_413,
                415: ERROR_415,
            },
        ),
    }

    def __init__(self, executions: ExecutionStore, clock: Clock, links: ExecutionLinks, max_body: int):
        self._executions = executions
        self._clock = clock
        self._links = links
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response, exe_id: int) -> None:
        execution = self._executions.get_execution(exe_id)
        if execution is None:
            raise not_found()
        resp.media = self._links.details(req, execution)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, exe_id: int) -> None:
        body = job_schemas.EXECUTION_FINISH.read(req, self._max_body, self._clock())
        if bound_node(req) is not None:  # a node's executor token ends only that node's executions
            current = self._executions.get_execution(exe_id)
            if current is None:
                raise not_found()
            check_node(req, current.node.hostname if current.node else None)
        files = [OutputFile(**f) for f in body["files"] or ()]
        job_status = self._executions.finish_execution(
            exe_id, body["status"], body["ended"], body["error"], body["output"], body["task_results"], files=files
        )
        resp.set_header(JOB_STATUS_HEADER, job_status)
        resp.media = self._links.details(req, self._executions.get_execution(exe_id))
