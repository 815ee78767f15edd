"""What an executor (the local worker, the Kubernetes engine) asks of the service, so that it holds an executor
token and no database credential: claim the next queued execution under a lease, renew leases, list what runs on
its node, fail what a dead predecessor left running there, and record the node an execution moved to. Finishing
and reporting outputs is PATCH /v6/job-executions/{id}/; log lines POST /v6/job-executions/{id}/logs/.

Each write is in `executor_methods` (api/auth.py): an executor token may call it, staff may, anyone else gets 403.
A token bound to a node acts only for that node (`check_node`): its own node's path, its own executions."""

from __future__ import annotations

import falcon

from api.auth import bound_node, check_node
from api.errors import not_found
from api.jobs import executor_schemas as schemas
from api.routing import Operation, Response, json_response
from api.schemas import ERROR_413, ERROR_415
from core.times import Clock
from jobs.execution_store import ExecutionStore

TAGS = ("executors",)


class ExecutorClaim:
    executor_methods = frozenset({"POST"})
    operations = {
        "POST": Operation(
            "Start the next QUEUED job's execution on this node, leased to its executor for lease_seconds",
            body=schemas.CLAIM.ref,
            tags=TAGS,
            responses={
                200: json_response(schemas.CLAIMED, "The execution started"),
                204: Response("Nothing is queued"),
                413: ERROR_413,
                415: ERROR_415,
            },
        )
    }

    def __init__(self, executions: ExecutionStore, clock: Clock, max_body: int):
        self._executions, self._clock, self._max_body = executions, clock, max_body

    def on_post(self, req: falcon.Request, resp: falcon.Response, node: str) -> None:
        body = schemas.CLAIM.read(req, self._max_body, self._clock())
        check_node(req, node)
        claimed = self._executions.claim_next_queued(node, body["lease_seconds"])
        if claimed is None:
            resp.status = falcon.HTTP_204
            return
        resp.media = schemas.claimed_json(claimed)


class ExecutorLeases:
    executor_methods = frozenset({"POST"})
    operations = {
        "POST": Operation(
            "Renew the leases of this node's RUNNING executions; answer those that ended meanwhile",
            body=schemas.RENEW.ref,
            tags=TAGS,
            responses={200: json_response(schemas.ENDED), 413: ERROR_413, 415: ERROR_415},
        )
    }

    def __init__(self, executions: ExecutionStore, clock: Clock, max_body: int):
        self._executions, self._clock, self._max_body = executions, clock, max_body

    def on_post(self, req: falcon.Request, resp: falcon.Response, node: str) -> None:
        body = schemas.RENEW.read(req, self._max_body, self._clock())
        ids = body["executions"]
        check_node(req, node)
        if bound_node(req) is not None:
            # A node's token renews only its node's executions (unknown ones simply come back as ended).
            for recorded in self._executions.nodes_of(ids).values():
                check_node(req, recorded)
        resp.media = {"ended": sorted(self._executions.renew_leases(ids, body["lease_seconds"]))}


class ExecutorRunning:
    executor_methods = frozenset({"POST"})
    operations = {
        "GET": Operation(
            "The RUNNING executions recorded on this node (for a restarted executor to adopt)",
            tags=TAGS,
            responses={200: json_response(schemas.RUNNING)},
        ),
        "POST": Operation(
            "Fail (node-lost, retried while tries remain) every execution RUNNING on this node: its executor "
            "starts again and runs none of them",
            tags=TAGS,
            responses={200: json_response(schemas.FAILED)},
        ),
    }

    def __init__(self, executions: ExecutionStore):
        self._executions = executions

    def on_get(self, req: falcon.Request, resp: falcon.Response, node: str) -> None:
        check_node(req, node)
        resp.media = {"running": self._executions.running_on(node)}

    def on_post(self, req: falcon.Request, resp: falcon.Response, node: str) -> None:
        check_node(req, node)
        resp.media = {"failed": self._executions.fail_stale_running(node)}


class ExecutionNode:
    executor_methods = frozenset({"PUT"})
    operations = {
        "PUT": Operation(
            "Record the node a RUNNING execution (and its job) actually runs on, once its engine placed it",
            body=schemas.MOVE.ref,
            tags=TAGS,
            responses={200: json_response(schemas.MOVED), 413: ERROR_413, 415: ERROR_415},
        )
    }

    def __init__(self, executions: ExecutionStore, clock: Clock, max_body: int):
        self._executions, self._clock, self._max_body = executions, clock, max_body

    def on_put(self, req: falcon.Request, resp: falcon.Response, exe_id: int) -> None:
        body = schemas.MOVE.read(req, self._max_body, self._clock())
        recorded = self._executions.nodes_of([exe_id])
        if exe_id not in recorded:
            raise not_found()
        check_node(req, recorded[exe_id])  # a node's token moves only its own executions
        check_node(req, body["node"])  # and only to itself: a node-bound token can't hand one to another node
        resp.media = {"moved": self._executions.move_to_node(exe_id, body["node"])}
