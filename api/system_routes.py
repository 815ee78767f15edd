"""The routes every page of Scale's UI calls: /v6/version/, /v6/status/ and /v6/scheduler/ (reads only).

Answered from what this service knows, in Scale's shapes: our version (core.version); the nodes that have run
executions, what runs on each and what ended there in the last three hours (Scale's window); job counts by
status; the database and Elasticsearch as dependencies. What Scale got from Mesos (offers, resources, agent ids)
we don't have: resources are reported as zeros and offers as none, in the shape the UI needs (it reads every
node's resources unguarded). The status is always a 200, also when the database is down (Scale answered 204
when its scheduler was gone; the UI then shows a warning instead of the status).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import falcon

from api.jobs.job_serialize import icon_code
from api.routing import Operation, json_response
from api.schemas import component
from core.times import Clock, format_datetime
from core.version import VERSION
from jobs.db import DatabaseError, is_unavailable
from jobs.records import ExecutionCount, StatusReport
from jobs.status_store import StatusStore
from jobs.statuses import ErrorCategory, ExecutionStatus

log = logging.getLogger(__name__)

# Executions that ended this long ago or less count as a node's completed and failed ones (Scale's window).
ENDED_WINDOW = timedelta(hours=3)
# There is no message queue: state changes are applied by the API within each request.
MESSAGE_HANDLERS = 0
SCHEDULER_STATE = {
    "name": "READY",
    "title": "Ready",
    "description": "Jobs are queued at once and run as workers and executors claim them.",
}
NODE_RUNNING = {"name": "READY", "title": "Ready", "description": "Running job executions."}
NODE_IDLE = {"name": "IDLE", "title": "Idle", "description": "No job execution is running on this node."}
RESOURCE_NAMES = ("cpus", "mem", "disk", "gpus")

N_STR = {"type": ["string", "null"]}
INT = {"type": "integer", "minimum": 0}
COUNTS = component(
    "ExecutionCounts",
    {
        "type": "object",
        "properties": {
            "total": INT,
            "by_job_type": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"job_type_id": {"type": "integer"}, "count": INT},
                    "required": ["job_type_id", "count"],
                },
            },
        },
        "required": ["total", "by_job_type"],
    },
)
STATE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"}},
    "required": ["name", "title", "description"],
}
RESOURCE = {
    "type": "object",
    "properties": {k: {"type": "number"} for k in ("offered", "total", "running", "free", "unavailable")},
    "required": ["offered", "total", "running", "free", "unavailable"],
}
RESOURCES = component(
    "StatusResources",
    {"type": "object", "properties": dict.fromkeys(RESOURCE_NAMES, RESOURCE), "required": list(RESOURCE_NAMES)},
)
DEPENDENCY = component(
    "StatusDependency",
    {
        "type": "object",
        "properties": {
            "OK": {"type": "boolean"},
            "detail": {"type": "object", "properties": {"msg": {"type": "string"}}, "required": ["msg"]},
            "errors": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "string"}}},
            "warnings": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "string"}}},
        },
        "required": ["OK", "detail", "errors", "warnings"],
    },
)
NODE_STATUS = component(
    "NodeStatus",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "hostname": {"type": "string"},
            "agent_id": N_STR,
            "is_active": {"type": "boolean"},
            "state": STATE,
            "errors": {"type": "array"},
            "warnings": {"type": "array"},
            "node_tasks": {"type": "array"},
            "system_tasks": {"type": "array"},
            "num_offers": INT,
            "resources": RESOURCES,
            "job_executions": {
                "type": "object",
                "properties": {
                    "running": COUNTS,
                    "completed": COUNTS,
                    "failed": {
                        "type": "object",
                        "properties": {"total": INT, "data": COUNTS, "algorithm": COUNTS, "system": COUNTS},
                        "required": ["total", "data", "algorithm", "system"],
                    },
                },
                "required": ["running", "completed", "failed"],
            },
        },
        "required": [
            "id",
            "hostname",
            "agent_id",
            "is_active",
            "state",
            "errors",
            "warnings",
            "node_tasks",
            "system_tasks",
            "num_offers",
            "resources",
            "job_executions",
        ],
    },
)
SCHEDULER = component(
    "Scheduler",
    {
        "type": "object",
        "properties": {
            "is_paused": {"type": "boolean"},
            "num_message_handlers": INT,
            "system_logging_level": {"type": "string"},
        },
        "required": ["is_paused", "num_message_handlers", "system_logging_level"],
    },
)
STATUS = component(
    "SystemStatus",
    {
        "type": "object",
        "description": "Scale's status shape. job_counts (jobs in each status) is ours.",
        "properties": {
            "timestamp": {"type": "string", "format": "date-time"},
            "last_updated": {"type": "string", "format": "date-time"},
            "scheduler": {
                "type": "object",
                "properties": {
                    "metrics": {"type": "object"},
                    "hostname": {"type": "string"},
                    "mesos": {"type": "object"},
                    "state": STATE,
                    "warnings": {"type": "array"},
                    "num_message_handlers": INT,
                    "system_logging_level": {"type": "string"},
                },
                "required": [
                    "metrics",
                    "hostname",
                    "mesos",
                    "state",
                    "warnings",
                    "num_message_handlers",
                    "system_logging_level",
                ],
            },
            "system": {
                "type": "object",
                "properties": {"database_update": {"type": "object"}, "services": {"type": "array"}},
                "required": ["database_update", "services"],
            },
            "num_offers": INT,
            "resources": RESOURCES,
            "job_types": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "version": {"type": "string"},
                        "title": N_STR,
                        "description": N_STR,
                        "is_system": {"type": "boolean"},
                        "icon_code": {"type": "string"},
                    },
                    "required": ["id", "name", "version", "title", "description", "is_system", "icon_code"],
                },
            },
            "nodes": {"type": "array", "items": NODE_STATUS},
            "dependencies": {"type": "object", "additionalProperties": DEPENDENCY},
            "job_counts": {"type": "object", "additionalProperties": INT},
        },
        "required": [
            "timestamp",
            "last_updated",
            "scheduler",
            "system",
            "num_offers",
            "resources",
            "job_types",
            "nodes",
            "dependencies",
            "job_counts",
        ],
    },
)


def logging_level() -> str:
    return logging.getLevelName(logging.getLogger().getEffectiveLevel())


def scheduler_settings() -> dict:
    return {"is_paused": False, "num_message_handlers": MESSAGE_HANDLERS, "system_logging_level": logging_level()}


class Version:
    operations = {
        "GET": Operation(
            "This service's version",
            tags=("system",),
            responses={
                200: json_response(
                    component(
                        "Version",
                        {"type": "object", "properties": {"version": {"type": "string"}}, "required": ["version"]},
                    )
                )
            },
        )
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"version": VERSION}


class Scheduler:
    operations = {
        "GET": Operation("The scheduler's settings", tags=("system",), responses={200: json_response(SCHEDULER)})
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = scheduler_settings()


class Status:
    operations = {
        "GET": Operation(
            "The system's status: nodes, what runs on them, job counts, dependencies",
            tags=("system",),
            responses={200: json_response(STATUS)},
        )
    }

    def __init__(self, status: StatusStore, cluster_info: Callable[[], dict[str, Any]] | None, clock: Clock):
        self._status = status
        self._cluster_info = cluster_info
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        now = self._clock()
        dependencies: dict[str, dict] = {}
        report = None
        try:
            report = self._status.report(now - ENDED_WINDOW)
            dependencies["database"] = dependency(True, "The database answers.")
        except DatabaseError as exc:
            if not is_unavailable(exc):
                raise
            log.warning("status: the database is unavailable: %s", type(exc).__name__)
            msg = "The database is unavailable."
            dependencies["database"] = dependency(False, msg, {"DATABASE_UNAVAILABLE": msg})
        if self._cluster_info is not None:
            try:
                info = self._cluster_info()
                dependencies["elasticsearch"] = dependency(True, f"Elasticsearch {info['version']} answers.")
            except Exception as exc:  # any failure means "not answering"; its type is enough to report
                msg = f"Elasticsearch is unavailable ({type(exc).__name__})."
                dependencies["elasticsearch"] = dependency(False, msg, {"ELASTICSEARCH_UNAVAILABLE": msg})
        resp.media = status_body(report, dependencies, format_datetime(now) or "")


def dependency(ok: bool, msg: str, errors: dict[str, str] | None = None) -> dict:
    """A dependency as Scale's UI reads it; each error a one-key object {CODE: message}."""
    return {"OK": ok, "detail": {"msg": msg}, "errors": [{c: m} for c, m in (errors or {}).items()], "warnings": []}


def status_body(report: StatusReport | None, dependencies: dict[str, dict], now: str) -> dict:
    nodes = report.nodes if report else []
    executions = report.executions if report else []
    return {
        "timestamp": now,
        "last_updated": now,
        "scheduler": {
            "metrics": {},
            "hostname": socket.gethostname(),
            "mesos": {"framework_id": None, "master_hostname": None, "master_port": None},
            "state": SCHEDULER_STATE,
            "warnings": [],
            "num_message_handlers": MESSAGE_HANDLERS,
            "system_logging_level": logging_level(),
        },
        "system": {"database_update": {"is_completed": report is not None, "completed": None}, "services": []},
        "num_offers": 0,
        "resources": no_resources(),
        "job_types": [
            {
                "id": t.id,
                "name": t.name,
                "version": t.version,
                "title": t.title,
                "description": t.description,
                "is_system": t.is_system,
                "icon_code": icon_code(t.icon_code),
            }
            for t in (report.job_types if report else [])
        ],
        "nodes": [
            node_status(node_id, hostname, [e for e in executions if e.node_id == node_id])
            for node_id, hostname in nodes
        ],
        "dependencies": dependencies,
        "job_counts": report.job_counts if report else {},
    }


def no_resources() -> dict:
    """Scale's resource figures came from Mesos offers; we have none, so every figure is 0 (the UI then shows 0 %
    use and no breakdown)."""
    return {name: dict.fromkeys(("offered", "total", "running", "free", "unavailable"), 0.0) for name in RESOURCE_NAMES}


def node_status(node_id: int, hostname: str, executions: list[ExecutionCount]) -> dict:
    running = [e for e in executions if e.status == ExecutionStatus.RUNNING]
    completed = [e for e in executions if e.status == ExecutionStatus.COMPLETED]
    failed = [e for e in executions if e.status == ExecutionStatus.FAILED]
    return {
        "id": node_id,
        "hostname": hostname,
        "agent_id": None,
        "is_active": True,
        "state": NODE_RUNNING if running else NODE_IDLE,
        "errors": [],
        "warnings": [],
        "node_tasks": [],
        "system_tasks": [],
        "num_offers": 0,
        "resources": no_resources(),
        "job_executions": {
            "running": counted(running),
            "completed": counted(completed),
            "failed": {
                "total": sum(e.count for e in failed),
                "data": counted(e for e in failed if e.error_category == ErrorCategory.DATA),
                "algorithm": counted(e for e in failed if e.error_category == ErrorCategory.ALGORITHM),
                "system": counted(e for e in failed if e.error_category == ErrorCategory.SYSTEM),
            },
        },
    }


def counted(executions: Iterable[ExecutionCount]) -> dict:
    by_type: dict[int, int] = {}
    for e in executions:
        by_type[e.job_type_id] = by_type.get(e.job_type_id, 0) + e.count
    return {
        "total": sum(by_type.values()),
        "by_job_type": [{"job_type_id": t, "count": n} for t, n in sorted(by_type.items())],
    }
