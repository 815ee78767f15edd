"""What the executor routes (api/jobs/executor_routes.py) read and answer, as OpenAPI components."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from api.bodies import INTEGER, STRING, Body, Field, Kind, list_of
from api.errors import bad_request
from api.schemas import component
from jobs.records import ClaimedExecution

MAX_LEASE_SECONDS = 24 * 3600
MAX_LEASES = 1000  # executions per renewal: the Kubernetes engine follows at most a few hundred


def _lease(name: str, raw: Any, now: datetime) -> int:
    value = INTEGER.convert(name, raw, now)
    if not 1 <= value <= MAX_LEASE_SECONDS:
        raise bad_request(f'Parameter must be between 1 and {MAX_LEASE_SECONDS}: "{name}"')
    return value


def _leased(name: str, raw: Any, now: datetime) -> list[int]:
    ids = list_of(INTEGER).convert(name, raw, now)
    if len(ids) > MAX_LEASES:
        raise bad_request(f'Parameter must list at most {MAX_LEASES} executions: "{name}"')
    return ids


LEASE = Kind(_lease, {"type": "integer", "minimum": 1, "maximum": MAX_LEASE_SECONDS})
IDS = Kind(_leased, {"type": "array", "items": INTEGER.schema, "maxItems": MAX_LEASES})

CLAIM = Body("ExecutorClaim", (Field("lease_seconds", LEASE, required=True),))
RENEW = Body(
    "ExecutorLeaseRenewal",
    (Field("executions", IDS, required=True), Field("lease_seconds", LEASE, required=True)),
)
MOVE = Body("ExecutionMove", (Field("node", STRING, required=True),))

CLAIMED = component(
    "ClaimedExecution",
    {
        "type": "object",
        "description": "An execution just started on the node: what its executor needs to run it",
        "required": [
            "id",
            "job_id",
            "exe_num",
            "cluster_id",
            "node",
            "job_type_name",
            "job_type_version",
            "docker_image",
            "manifest",
            "input",
            "configuration",
            "timeout",
            "started",
            "resources",
        ],
        "properties": {
            "id": {"type": "integer"},
            "job_id": {"type": "integer"},
            "exe_num": {"type": "integer"},
            "cluster_id": {"type": "string"},
            "node": {"type": "string"},
            "job_type_name": {"type": "string"},
            "job_type_version": {"type": "string"},
            "docker_image": {"type": "string"},
            "manifest": {"type": "object"},
            "input": {"type": "object"},
            "configuration": {"type": "object"},
            "timeout": {"type": "integer"},
            "started": {"type": "string", "format": "date-time"},
            "resources": {"type": ["object", "null"], "additionalProperties": {"type": "number"}},
        },
    },
)
ENDED = component(
    "ExecutorLeasesRenewed",
    {
        "type": "object",
        "required": ["ended"],
        "properties": {
            "ended": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Those of the executions that are no longer RUNNING (canceled, or failed when "
                "their lease ran out): their executor stops them",
            }
        },
    },
)
RUNNING = component(
    "ExecutorRunning",
    {
        "type": "object",
        "required": ["running"],
        "properties": {"running": {"type": "array", "items": {"type": "integer"}}},
    },
)
FAILED = component(
    "ExecutorStaleFailed",
    {"type": "object", "required": ["failed"], "properties": {"failed": {"type": "integer", "minimum": 0}}},
)
MOVED = component(
    "ExecutionMoved",
    {"type": "object", "required": ["moved"], "properties": {"moved": {"type": "boolean"}}},
)


def claimed_json(c: ClaimedExecution) -> dict:
    return {**asdict(c), "started": c.started.isoformat()}
