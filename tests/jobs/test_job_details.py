"""GET /v6/jobs/{id}/ and /v6/jobs/{id}/input_files/."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.jobs.helpers import MIB, add_job_type, finish, manifest, queue, start


@pytest.fixture
def job_type(api, auth):
    return add_job_type(api, auth, manifest(files=[{"name": "input_a", "multiple": True, "required": False}]))


def test_unknown_job_is_404(api):
    r = api.simulate_get("/v6/jobs/999999/")
    assert (r.status_code, r.json["detail"]) == (404, "Not found.")
    assert api.simulate_get("/v6/jobs/0/").status_code == 404
    assert api.simulate_get("/v6/jobs/abc/").status_code == 404


def test_superseded_links(api, auth, stores, job_type, clock):
    old = queue(api, auth, job_type["id"], {})["id"]
    clock.advance(minutes=5)
    new = stores.jobs.create_job(job_type["id"], {}, superseded_job_id=old)
    old_job, new_job = api.simulate_get(f"/v6/jobs/{old}/").json, api.simulate_get(f"/v6/jobs/{new}/").json
    assert (old_job["is_superseded"], old_job["superseded"]) == (True, "2020-01-01T00:05:00Z")
    job_type = {
        key: job_type[key]
        for key in (
            "id",
            "name",
            "version",
            "title",
            "description",
            "is_active",
            "is_paused",
            "is_system",
            "is_published",
            "unmet_resources",
        )
    }
    job_type.update(
        icon_code="f1b2", manifest={"job": {"name": "test-job", "jobVersion": "1.0.0", "title": "Test Job"}}
    )
    assert old_job["superseded_by_job"] == {"id": new, "job_type": job_type, "status": "QUEUED"}
    assert old_job["superseded_job"] is None
    assert new_job["superseded_job"] == {"id": old, "job_type": job_type, "status": "QUEUED"}
    assert new_job["superseded_by_job"] is None
    assert new_job["is_superseded"] is False
    keys = list(new_job)
    assert keys.index("superseded_job") + 1 == keys.index("superseded_by_job") == keys.index("status") - 1


def test_execution_is_the_latest_one_and_output_is_copied(api, auth, job_type, clock):
    job = queue(api, auth, job_type["id"], {})
    first = start(api, auth, job["id"])
    finish(api, auth, first["id"], "FAILED", error={"name": "node-lost"})  # retried: tries remain
    second = start(api, auth, job["id"], started="2020-01-01T00:00:30Z")
    clock.advance(minutes=2)
    finish(
        api,
        auth,
        second["id"],
        "COMPLETED",
        output={"files": {"out": [7]}, "json": {"answer": 42}},
        task_results={"tasks": []},
    )
    details = api.simulate_get(f"/v6/jobs/{job['id']}/").json
    assert details["status"] == "COMPLETED" and details["num_exes"] == 2
    assert details["execution"]["id"] == second["id"] and details["execution"]["exe_num"] == 2
    assert details["execution"]["task_results"] == {"tasks": []}
    assert details["output"] == {"files": {"out": [7]}, "json": {"answer": 42}}
    assert (details["started"], details["ended"]) == ("2020-01-01T00:00:30Z", "2020-01-01T00:02:00Z")


def test_no_execution_for_canceled_jobs(api, auth, job_type):
    job = queue(api, auth, job_type["id"], {})
    start(api, auth, job["id"])
    api.simulate_post("/v6/jobs/cancel/", json={"job_ids": [job["id"]]}, headers=auth)
    details = api.simulate_get(f"/v6/jobs/{job['id']}/").json
    assert details["status"] == "CANCELED" and details["execution"] is None and details["node"] is None


def test_microseconds_only_when_non_zero(api, auth, job_type, clock):
    clock.now = datetime(2015, 8, 28, 17, 55, 41, 5000, tzinfo=UTC)
    job = queue(api, auth, job_type["id"], {})
    assert job["created"] == "2015-08-28T17:55:41.005000Z"


@pytest.fixture
def files_job(api, auth, job_type, clock, refs):
    ws = refs.add_workspace("ws", base_url="http://files.example.com/")
    day = lambda d: datetime(2019, 1, d, tzinfo=UTC)  # noqa: E731
    a = refs.add_file(
        ws,
        "a.tif",
        MIB,
        data_started=day(1),
        data_ended=day(2),
        source_started=day(10),
        source_ended=day(11),
        file_path="x/a.tif",
    )
    clock.advance(hours=1)
    b = refs.add_file(
        ws, "b.tif", MIB, data_started=day(5), data_ended=day(6), source_started=day(3), source_ended=day(4)
    )
    other = refs.add_file(ws, "c.tif", MIB)
    job = queue(api, auth, job_type["id"], {"files": {"input_a": [a, b]}})
    return {"job": job["id"], "a": a, "b": b, "other": other}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["a", "b"]),
        ("file_name=b.tif", ["b"]),
        ("job_input=input_a", ["a", "b"]),
        ("job_input=nope", []),
        ("started=2020-01-01T00:30:00Z", ["b"]),
        ("ended=2020-01-01T00:30:00Z", ["a"]),
        ("time_field=data&started=2019-01-04T00:00:00Z", ["b"]),
        ("time_field=data&ended=2019-01-04T00:00:00Z", ["a"]),
        ("time_field=source&started=2019-01-05T00:00:00Z", ["a"]),
        ("time_field=source&started=2019-01-01T00:00:00Z&ended=2019-01-05T00:00:00Z", ["b"]),
    ],
)
def test_input_files(api, files_job, query, expected):
    r = api.simulate_get(f"/v6/jobs/{files_job['job']}/input_files/", query_string=query)
    assert r.status_code == 200, r.json
    assert [f["id"] for f in r.json["results"]] == [files_job[n] for n in expected]


def test_input_file_shape_and_errors(api, files_job):
    r = api.simulate_get(f"/v6/jobs/{files_job['job']}/input_files/", query_string="file_name=a.tif")
    item = r.json["results"][0]
    assert item["url"] == "http://files.example.com/x/a.tif" and item["workspace"]["name"] == "ws"
    assert (item["file_size"], item["source_started"]) == (MIB, "2019-01-10T00:00:00Z")
    r = api.simulate_get("/v6/jobs/999999/input_files/")
    assert (r.status_code, r.json["detail"]) == (404, "Not found.")
    r = api.simulate_get(f"/v6/jobs/{files_job['job']}/input_files/", query_string="time_field=created")
    assert (r.status_code, r.json["detail"]) == (
        400,
        "Parameter \"time_field\" values must be one of: ['source', 'data', 'last_modified']",
    )
