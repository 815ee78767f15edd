"""POST/GET /v6/job-types/ and /v6/job-types/{name}/{version}/."""

from __future__ import annotations

import pytest

from tests.jobs.helpers import add_job_type, manifest


def test_add_seed_image_creates_a_job_type(api, auth):
    m = manifest(title="Scale Ingest")
    r = api.simulate_post(
        "/v6/job-types/",
        json={"docker_image": "img:1", "manifest": m, "icon_code": "f013", "max_scheduled": 2, "is_published": True},
        headers=auth,
    )
    assert r.status_code == 201
    assert r.headers["location"] == "http://falconframework.org/v6/job-types/test-job/1.0.0/"
    body = r.json
    assert list(body)[:4] == ["id", "name", "version", "title"]
    assert (body["name"], body["version"], body["title"], body["icon_code"]) == (
        "test-job",
        "1.0.0",
        "Scale Ingest",
        "f013",
    )
    assert (body["max_scheduled"], body["is_published"], body["is_active"], body["max_tries"]) == (2, True, True, 3)
    assert body["revision_num"] == 1 and body["manifest"] == m and body["created"] == "2020-01-01T00:00:00Z"


def test_same_name_and_version_makes_a_new_revision(api, auth, clock):
    first = add_job_type(api, auth)
    clock.advance(minutes=1)
    r = api.simulate_post("/v6/job-types/", json={"docker_image": "img:2", "manifest": manifest()}, headers=auth)
    assert r.status_code == 200
    assert (r.json["id"], r.json["revision_num"], r.json["docker_image"]) == (first["id"], 2, "img:2")
    assert r.json["last_modified"] == "2020-01-01T00:01:00Z"


def test_jobs_use_the_current_revision(api, auth):
    job_type = add_job_type(api, auth, manifest(files=()))
    add_job_type(api, auth, manifest(files=()))
    r = api.simulate_post("/v6/jobs/", json={"job_type_id": job_type["id"], "input": {}}, headers=auth)
    assert r.json["job_type_rev"]["revision_num"] == 2


@pytest.mark.parametrize(
    "body, detail",
    [
        ({"manifest": manifest()}, 'Missing required parameter: "docker_image"'),
        ({"docker_image": "x"}, 'Missing required parameter: "manifest"'),
        ({"docker_image": "x", "manifest": []}, 'Parameter must be a valid JSON object: "manifest"'),
        ({"docker_image": "x", "manifest": {"job": {}}}, "Invalid manifest: 'seedVersion' is a required property"),
        (
            {
                "docker_image": "x",
                "manifest": {"seedVersion": "1.0.0", "job": {"jobVersion": "1.0.0", "packageVersion": "1.0.0"}},
            },
            "Invalid manifest: job: 'name' is a required property",
        ),
        (
            {"docker_image": "x", "manifest": manifest(name="Bad Name")},
            "Invalid manifest: job.name: 'Bad Name' does not match '^[a-z0-9_-]+$'",
        ),
        (
            {"docker_image": "x", "manifest": manifest(version="one")},
            "Invalid manifest: job.jobVersion: 'one' does not match '^\\\\d+\\\\.\\\\d+\\\\.\\\\d+([-+][0-9A-Za-z.+-]+)?$'",
        ),
        (
            {"docker_image": "x", "manifest": manifest(files=({"name": "a"}, {"name": "a"}))},
            "Invalid manifest: input names must be unique",
        ),
        (
            {"docker_image": "x", "manifest": manifest(errors=[{"code": 1, "name": "e", "category": "oops"}])},
            "Invalid manifest: job.errors.0.category: 'oops' is not one of ['job', 'data']",
        ),
        (
            {"docker_image": "x", "manifest": manifest(resources=[{"name": "cpus", "value": -1}])},
            "Invalid manifest: job.resources.scalar.0.value: -1 is less than the minimum of 0",
        ),
        (
            {"docker_image": "x", "manifest": manifest(), "configuration": {"priority": 0}},
            "Job type configuration invalid: priority: 0 is less than the minimum of 1",
        ),
        (
            {"docker_image": "x", "manifest": manifest(), "configuration": {"output_workspaces": {"default": "nope"}}},
            "Job type configuration invalid: workspace 'nope' does not exist",
        ),
        (
            {"docker_image": "x", "manifest": manifest(), "configuration": {"settings": {"LD_PRELOAD": "/tmp/x.so"}}},
            "Job type configuration invalid: settings.LD_PRELOAD: LD_*, PATH and PYTHON* variables may not be set "
            "by a job",
        ),
        (
            {"docker_image": "x", "manifest": manifest(), "configuration": {"settings": {"path": "/tmp/bin"}}},
            "Job type configuration invalid: settings.path: LD_*, PATH and PYTHON* variables may not be set by a job",
        ),
        (
            {"docker_image": "x", "manifest": manifest(settings=[{"name": "PythonPath"}])},
            "Invalid manifest: 'PythonPath' is refused: LD_*, PATH and PYTHON* variables may not be set by a job",
        ),
        (
            {"docker_image": "x", "manifest": manifest(json=[{"name": "ld-library-path", "type": "string"}])},
            "Invalid manifest: 'ld-library-path' is refused: LD_*, PATH and PYTHON* variables may not be set by a job",
        ),
        (
            {"docker_image": "x", "manifest": manifest(), "is_active": "maybe"},
            'Parameter must be a valid boolean: "is_active"',
        ),
    ],
)
def test_bad_job_types_are_400_with_a_clear_detail(api, auth, body, detail):
    r = api.simulate_post("/v6/job-types/", json=body, headers=auth)
    assert (r.status_code, r.json["detail"]) == (400, detail)


def test_writes_need_the_admin_token(api, auth):
    body = {"docker_image": "x", "manifest": manifest()}
    assert api.simulate_post("/v6/job-types/", json=body).status_code == 401
    r = api.simulate_post("/v6/job-types/", json=body, headers={"Authorization": "Bearer wrong"})
    assert (r.status_code, r.json["detail"]) == (403, "You do not have permission to perform this action.")


def test_non_json_body_is_415(api, auth):
    r = api.simulate_post("/v6/job-types/", body="docker_image=x", headers={**auth, "Content-Type": "text/plain"})
    assert (r.status_code, r.json["detail"]) == (415, 'Unsupported media type "text/plain" in request.')


def test_secret_settings_are_never_stored_or_returned(api, auth):
    m = manifest(settings=[{"name": "PASSWORD", "secret": True}, {"name": "MODE"}])
    created = add_job_type(api, auth, m, configuration={"settings": {"PASSWORD": "hunter2", "MODE": "fast"}})
    assert created["configuration"]["settings"] == {"MODE": "fast"}
    r = api.simulate_get("/v6/job-types/test-job/1.0.0/")
    assert "hunter2" not in r.text and r.json["configuration"]["settings"] == {"MODE": "fast"}


def test_details_by_name_and_version(api, auth):
    add_job_type(api, auth)
    r = api.simulate_get("/v6/job-types/test-job/1.0.0/")
    assert r.status_code == 200 and r.json["docker_image"] == "img:1"
    assert r.json["configuration"] == {
        "mounts": {},
        "priority": 100,
        "output_workspaces": {"outputs": {}},
        "settings": {},
    }
    assert api.simulate_get("/v6/job-types/test-job/9.9.9/").json["detail"] == "Not found."
    assert api.simulate_get("/v6/job-types/test-job/9.9.9/").status_code == 404


def test_list_filters(api, auth):
    a = add_job_type(api, auth, manifest("alpha", title="Alpha Finder"))
    b = add_job_type(api, auth, manifest("beta", description="finds things"), is_active=False)
    c = add_job_type(api, auth, manifest("gamma"))

    def listed(query: str) -> list[int]:
        r = api.simulate_get("/v6/job-types/", query_string=query)
        assert r.status_code == 200, r.json
        return [t["id"] for t in r.json["results"]]

    assert listed("") == [a["id"], b["id"], c["id"]]
    assert listed("keyword=FIND") == [a["id"], b["id"]]
    assert listed(f"id={a['id']}&id={c['id']}") == [a["id"], c["id"]]
    assert listed("is_active=false") == [b["id"]]
    assert listed("is_active=true&keyword=alpha") == [a["id"]]
    assert listed("is_system=true") == []
    assert listed("is_system=f&page_size=1&page=3") == [c["id"]]
    r = api.simulate_get("/v6/job-types/", query_string="is_active=yes")
    assert (r.status_code, r.json["detail"]) == (400, 'Parameter must be a valid boolean: "is_active"')
