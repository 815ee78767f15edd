"""POST /v6/jobs/: every check in Scale's order, the 201 answer, resources and configuration."""

from __future__ import annotations

import pytest

from tests.jobs.helpers import MIB, add_job_type, manifest, queue


@pytest.fixture
def job_type(api, auth, refs):
    refs.add_workspace("ws1")
    m = manifest(
        files=[{"name": "input_a"}, {"name": "many", "multiple": True, "required": False}],
        json=[{"name": "count", "type": "integer", "required": False}],
        settings=[{"name": "SECRET", "secret": True}, {"name": "MODE"}],
    )
    return add_job_type(api, auth, m, configuration={"priority": 50, "settings": {"SECRET": "s3", "MODE": "a"}})


@pytest.fixture
def file_id(refs):
    workspace = refs.add_workspace("files")
    return refs.add_file(workspace, "my-file.file", MIB)


def test_queues_a_job(api, auth, job_type, file_id):
    r = api.simulate_post(
        "/v6/jobs/", json={"job_type_id": job_type["id"], "input": {"files": {"input_a": [file_id]}}}, headers=auth
    )
    assert r.status_code == 201
    job = r.json
    assert r.headers["location"] == f"http://falconframework.org/v6/jobs/{job['id']}/"
    assert (job["status"], job["num_exes"], job["max_tries"], job["execution"]) == ("QUEUED", 1, 3, None)
    assert job["queued"] == job["last_status_change"] == job["created"] == "2020-01-01T00:00:00Z"
    assert job["event"]["type"] == "USER" and job["event"]["occurred"] == "2020-01-01T00:00:00Z"
    assert job["input"] == {"files": {"input_a": [file_id]}, "json": {}}
    assert job["input_files"] == {"input_a": ["my-file.file"]} and job["input_file_size"] == 1.0
    assert job["output"] == {"files": {}, "json": {}}
    assert job["resources"] == {"resources": {"cpus": 0.25, "mem": 128.0, "disk": 1.0, "gpus": 0.0}}
    assert list(job)[:6] == ["id", "job_type", "job_type_rev", "event", "ingest_event", "recipe"]


def test_configuration_is_merged_and_secrets_never_returned(api, auth, job_type, file_id):
    job = queue(
        api,
        auth,
        job_type["id"],
        {"files": {"input_a": [file_id]}},
        {"priority": 7, "settings": {"SECRET": "mine", "MODE": "b"}, "output_workspaces": {"default": "ws1"}},
    )
    assert job["configuration"] == {
        "mounts": {},
        "priority": 7,
        "output_workspaces": {"default": "ws1", "outputs": {}},
        "settings": {"MODE": "b"},
    }
    details = api.simulate_get(f"/v6/jobs/{job['id']}/")
    assert "mine" not in details.text and "s3" not in details.text
    assert details.json["configuration"]["settings"] == {"MODE": "b"}


def test_job_type_configuration_applies_without_override(api, auth, job_type, file_id):
    job = queue(api, auth, job_type["id"], {"files": {"input_a": [file_id]}})
    assert job["configuration"] == {
        "mounts": {},
        "priority": 50,
        "output_workspaces": {"outputs": {}},
        "settings": {"MODE": "a"},
    }


@pytest.mark.parametrize(
    "scalars, size, expected",
    [
        ([{"name": "cpus", "value": 1}, {"name": "mem", "value": 64}], 10, {"cpus": 1.0, "mem": 128.0, "disk": 10.0}),
        (
            [
                {"name": "cpus", "value": 1},
                {"name": "mem", "value": 1024},
                {"name": "sharedMem", "value": 1024},
                {"name": "disk", "value": 1000, "inputMultiplier": 4.0},
            ],
            10,
            {"cpus": 1.0, "mem": 1024.0, "disk": 1040.0},
        ),
    ],
)
def test_resources_examples(api, auth, scalars, size, expected, refs):
    job_type = add_job_type(api, auth, manifest(resources=scalars))
    file_id = refs.add_file(refs.add_workspace("w"), "f", size * MIB)
    job = queue(api, auth, job_type["id"], {"files": {"input_a": [file_id]}})
    assert job["resources"] == {"resources": {**expected, "gpus": 0.0}}
    assert job["input_file_size"] == float(size)


def post(api, auth, body):
    return api.simulate_post("/v6/jobs/", json=body, headers=auth)


@pytest.mark.parametrize(
    "body, status, detail",
    [
        ({"input": {}}, 400, 'Missing required parameter: "job_type_id"'),
        ({"job_type_id": "x", "input": {}}, 400, 'Parameter must be a valid integer: "job_type_id"'),
        ({"job_type_id": True, "input": {}}, 400, 'Parameter must be a valid integer: "job_type_id"'),
        ({"job_type_id": 99999}, 400, 'Missing required parameter: "input"'),
        ({"job_type_id": 99999, "input": [1]}, 400, 'Parameter must be a valid JSON object: "input"'),
        (
            {"job_type_id": 99999, "input": {"bad": 1}},
            400,
            "Invalid data: Additional properties are not allowed ('bad' was unexpected)",
        ),
        ({"job_type_id": 99999, "input": {"version": "5"}}, 400, "Invalid data: version: '5' is not one of ['6', '7']"),
        (
            {"job_type_id": 99999, "input": {"files": {"a": ["x"]}}},
            400,
            "Invalid data: files.a.0: 'x' is not of type 'integer'",
        ),
        ({"job_type_id": 99999, "input": {}}, 404, "Not found."),
    ],
)
def test_checks_before_the_job_type(api, auth, body, status, detail):
    r = post(api, auth, body)
    assert (r.status_code, r.json["detail"]) == (status, detail)


def test_inactive_job_type_is_400(api, auth):
    job_type = add_job_type(api, auth, manifest(files=()), is_active=False)
    r = post(api, auth, {"job_type_id": job_type["id"], "input": {}, "configuration": {"priority": "x"}})
    assert (r.status_code, r.json["detail"]) == (400, 'Job type "test-job" version "1.0.0" is not active')


@pytest.mark.parametrize(
    "configuration, detail",
    [
        ([], "Job type configuration invalid: [] is not of type 'object'"),
        ({"priority": "high"}, "Job type configuration invalid: priority: 'high' is not of type 'integer'"),
        (
            {"unknown": 1},
            "Job type configuration invalid: Additional properties are not allowed ('unknown' was unexpected)",
        ),
        (
            {"output_workspaces": {"default": "missing"}},
            "Job type configuration invalid: workspace 'missing' does not exist",
        ),
        (
            {"settings": {"LD_PRELOAD": "/tmp/evil.so"}},
            "Job type configuration invalid: settings.LD_PRELOAD: LD_*, PATH and PYTHON* variables may not be set "
            "by a job",
        ),
        (
            {"settings": {"PATH": "/tmp"}},
            "Job type configuration invalid: settings.PATH: LD_*, PATH and PYTHON* variables may not be set by a job",
        ),
        (
            {"settings": {"PYTHONPATH": "/tmp"}},
            "Job type configuration invalid: settings.PYTHONPATH: LD_*, PATH and PYTHON* variables may not be set "
            "by a job",
        ),
    ],
)
def test_configuration_checked_before_the_interface(api, auth, job_type, configuration, detail):
    r = post(api, auth, {"job_type_id": job_type["id"], "input": {"files": {}}, "configuration": configuration})
    assert (r.status_code, r.json["detail"]) == (400, detail)


@pytest.mark.parametrize(
    "data, detail",
    [
        ({"files": {}}, "Invalid job data: required input 'input_a' was not provided"),
        ({"files": {"input_a": [999999]}}, "Invalid job data: file 999999 does not exist"),
        ({"files": {"input_a": ["F", "F"]}}, "Invalid job data: input 'input_a' accepts only one file"),
        ({"files": {"input_a": ["F"], "count": ["F"]}}, "Invalid job data: input 'count' takes JSON, not files"),
        (
            {"files": {"input_a": ["F"]}, "json": {"input_a": 1}},
            "Invalid job data: input 'input_a' takes files, not JSON",
        ),
        (
            {"files": {"input_a": ["F"]}, "json": {"other": 1}},
            "Invalid job data: 'other' is not an input of this job type",
        ),
        (
            {"files": {"input_a": ["F"]}, "json": {"count": "3"}},
            "Invalid job data: input 'count' must be of type integer",
        ),
    ],
)
def test_input_must_satisfy_the_interface(api, auth, job_type, file_id, data, detail):
    data = {
        k: {n: [file_id if i == "F" else i for i in v] if isinstance(v, list) else v for n, v in d.items()}
        for k, d in data.items()
    }
    r = post(api, auth, {"job_type_id": job_type["id"], "input": data})
    assert (r.status_code, r.json["detail"]) == (400, detail)


def test_multiple_files_and_json_inputs(api, auth, job_type, file_id, refs):
    second = refs.add_file(refs.add_workspace("w2"), "second.file", 2 * MIB)
    job = queue(
        api, auth, job_type["id"], {"files": {"input_a": [file_id], "many": [file_id, second]}, "json": {"count": 3}}
    )
    assert job["input_files"] == {"input_a": ["my-file.file"], "many": ["my-file.file", "second.file"]}
    assert job["input_file_size"] == 3.0  # each file counted once
    assert job["input"]["json"] == {"count": 3}


def test_body_must_be_json(api, auth):
    r = api.simulate_post("/v6/jobs/", body="{", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json["detail"].startswith("JSON parse error - ")
    r = api.simulate_post(
        "/v6/jobs/", body="a=b", headers={**auth, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (r.status_code, r.json["detail"]) == (
        415,
        'Unsupported media type "application/x-www-form-urlencoded" in request.',
    )
