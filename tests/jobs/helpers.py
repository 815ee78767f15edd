"""Small builders for the job tests."""
from __future__ import annotations

MIB = 1024 * 1024


def manifest(name: str = "test-job", version: str = "1.0.0", *, files=({"name": "input_a"},), json=(),
             resources=None, settings=(), errors=(), **job) -> dict:
    body = {"name": name, "jobVersion": version, "packageVersion": "1.0.0", "title": "Test Job",
            "description": "A test job", "timeout": 10,
            "interface": {"command": "run", "inputs": {"files": list(files), "json": list(json)},
                          "settings": list(settings)},
            "errors": list(errors), **job}
    if resources is not None:
        body["resources"] = {"scalar": resources}
    return {"seedVersion": "1.0.0", "job": body}


def add_job_type(client, auth, m: dict | None = None, **fields) -> dict:
    r = client.simulate_post("/v6/job-types/", json={"docker_image": "img:1", "manifest": m or manifest(), **fields},
                             headers=auth)
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
