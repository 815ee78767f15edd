"""Fixtures of the ingest tests: a shipper, job types and executions."""
from __future__ import annotations

import uuid

import pytest

from ingest.shipper import Shipper


@pytest.fixture
def shipper(es, settings):
    s = Shipper(es, settings.log_index_prefix, settings.spool_dir, backoff=(0.1, 1.0))
    yield s
    s.close(timeout=5)


def manifest(command: str = "true", *, name: str | None = None, timeout: int = 30, json_inputs=(),
             settings=(), errors=()) -> dict:
    return {"seedVersion": "1.0.0", "job": {
        "name": name or f"ingest-{uuid.uuid4().hex[:8]}", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
        "title": "Ingest test", "timeout": timeout,
        "interface": {"command": command, "inputs": {"json": list(json_inputs)}, "settings": list(settings)},
        "errors": list(errors)}}


def queue_job(store, m: dict, input: dict | None = None, configuration: dict | None = None) -> int:
    job_type, _ = store.save_job_type("local:1", m, configuration)
    return store.create_job(job_type.id, input or {"files": {}, "json": {}})


@pytest.fixture
def execution(store):
    """A RUNNING execution (ClaimedExecution) of a new job on node "node-a"."""
    def make(node: str = "node-a"):
        return store.start_execution(queue_job(store, manifest()), node)
    return make
