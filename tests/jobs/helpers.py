"""Small builders for the job tests."""

from __future__ import annotations

from tests import factories

MIB = 1024 * 1024


def manifest(name: str = "test-job", version: str = "1.0.0", *, files=({"name": "input_a"},), **fields) -> dict:
    """The job tests' manifest: a named job with one file input and a 10-second timeout."""
    return factories.manifest(name, version, files=files, timeout=fields.pop("timeout", 10), **fields)


def add_job_type(client, auth, m: dict | None = None, **fields) -> dict:
    r = client.simulate_post(
        "/v6/job-types/", json={"docker_image": "img:1", "manifest": m or manifest(), **fields}, headers=auth
    )
    assert r.status_code in (200, 201), r.json
    return r.json


def queue(client, auth, job_type_id: int, input: dict, configuration: dict | None = None) -> dict:
    body = {"job_type_id": job_type_id, "input": input}
    if configuration is not None:
        body["configuration"] = configuration
    r = client.simulate_post("/v6/jobs/", json=body, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def start(client, auth, job_id: int, node: str = "node-1", **body) -> dict:
    r = client.simulate_post(f"/v6/jobs/{job_id}/executions/", json={"node": node, **body}, headers=auth)
    assert r.status_code == 201, r.json
    return r.json


def finish(client, auth, exe_id: int, status: str, **body) -> dict:
    r = client.simulate_patch(f"/v6/job-executions/{exe_id}/", json={"status": status, **body}, headers=auth)
    assert r.status_code == 200, r.json
    return r.json


def ids(response) -> list[int]:
    return [item["id"] for item in response.json["results"]]
