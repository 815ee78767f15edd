"""POST /v6/jobs/cancel/ and /v6/jobs/requeue/: filters, effects, errors, and racing requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.jobs.helpers import add_job_type, finish, manifest, queue, start


@pytest.fixture
def jobs(api, auth, stores, clock, refs):
    alpha = add_job_type(api, auth, manifest("alpha", files=()))
    beta = add_job_type(api, auth, manifest("beta", "2.0.0", files=()))
    batch = refs.add_batch("b")
    recipe = refs.add_recipe("r")
    out = {"alpha": alpha["id"], "beta": beta["id"], "batch": batch, "recipe": recipe}
    out["queued"] = stores.jobs.create_job(alpha["id"], {}, batch_id=batch, recipe_id=recipe)
    out["running"] = queue(api, auth, beta["id"], {})["id"]
    out["running_exe"] = start(api, auth, out["running"])["id"]
    out["completed"] = queue(api, auth, alpha["id"], {})["id"]
    finish(api, auth, start(api, auth, out["completed"])["id"], "COMPLETED")
    clock.advance(hours=1)
    out["failed"] = queue(api, auth, beta["id"], {})["id"]
    finish(api, auth, start(api, auth, out["failed"])["id"], "FAILED", error={"name": "timeout"})
    return out


def status_of(api, job_id):
    return api.simulate_get(f"/v6/jobs/{job_id}/").json


def post(api, auth, action, body):
    return api.simulate_post(f"/v6/jobs/{action}/", json=body, headers=auth)


def test_cancel_everything(api, auth, jobs, clock):
    clock.advance(minutes=1)
    r = post(api, auth, "cancel", {})
    assert (r.status_code, r.json) == (202, {"matched": 3})
    for name in ("queued", "running", "failed"):
        job = status_of(api, jobs[name])
        assert (job["status"], job["error"], job["node"]) == ("CANCELED", None, None)
        assert job["last_status_change"] == job["last_modified"] == "2020-01-01T01:01:00Z"
    assert status_of(api, jobs["completed"])["status"] == "COMPLETED"
    exe = api.simulate_get(f"/v6/job-executions/{jobs['running_exe']}/").json
    assert (exe["status"], exe["ended"]) == ("CANCELED", "2020-01-01T01:01:00Z")


@pytest.mark.parametrize(
    "body, canceled",
    [
        ({"status": "QUEUED"}, {"queued"}),
        ({"job_ids": ["running", "completed"]}, {"running"}),
        ({"job_type_ids": ["beta"]}, {"running", "failed"}),
        ({"job_types": [{"name": "alpha", "version": "1.0.0"}]}, {"queued"}),
        ({"job_type_names": ["beta"], "status": "FAILED"}, {"failed"}),
        ({"batch_ids": ["batch"]}, {"queued"}),
        ({"recipe_ids": ["recipe"]}, {"queued"}),
        ({"error_categories": ["ALGORITHM"]}, {"failed"}),
        ({"error_categories": ["DATA"]}, set()),
        ({"started": "2020-01-01T00:30:00Z"}, {"failed"}),
        ({"ended": "2020-01-01T00:30:00Z"}, {"queued", "running"}),
        ({"started": "PT30M"}, {"failed"}),
        ({"is_superseded": True}, set()),
        ({"is_superseded": False, "job_type_names": ["alpha"]}, {"queued"}),
    ],
)
def test_cancel_filters(api, auth, jobs, body, canceled):
    body = {
        k: [jobs[x] if isinstance(x, str) and x in jobs else x for x in v] if k.endswith("_ids") else v
        for k, v in body.items()
    }
    error_ids = {"error_ids": [status_of(api, jobs["failed"])["error"]["id"]]}
    r = post(api, auth, "cancel", body)
    assert r.json == {"matched": len(canceled)}
    for name in ("queued", "running", "failed"):
        assert (status_of(api, jobs[name])["status"] == "CANCELED") == (name in canceled), name
    assert post(api, auth, "cancel", error_ids).json == {"matched": 0 if "failed" in canceled else 1}


def test_requeue(api, auth, jobs, clock):
    post(api, auth, "cancel", {"job_ids": [jobs["queued"]]})
    clock.advance(minutes=1)
    r = post(api, auth, "requeue", {"priority": 5})
    assert (r.status_code, r.json) == (202, {"matched": 2})
    failed = status_of(api, jobs["failed"])
    assert (failed["status"], failed["num_exes"], failed["max_tries"], failed["error"]) == ("QUEUED", 2, 4, None)
    assert (failed["started"], failed["ended"], failed["node"]) == (None, None, None)
    assert failed["queued"] == failed["last_status_change"] == "2020-01-01T01:01:00Z"
    assert failed["configuration"]["priority"] == 100  # the job's configuration is unchanged...
    canceled = status_of(api, jobs["queued"])
    assert (canceled["status"], canceled["num_exes"]) == ("QUEUED", 2)
    assert status_of(api, jobs["running"])["status"] == "RUNNING"
    assert status_of(api, jobs["completed"])["status"] == "COMPLETED"
    assert start(api, auth, jobs["failed"])["exe_num"] == 2
    # ...but the queue priority changed: claim order follows it.


def test_requeue_skips_superseded_jobs(api, auth, jobs, stores):
    stores.jobs.create_job(jobs["beta"], {}, superseded_job_id=jobs["failed"])
    assert post(api, auth, "requeue", {"job_ids": [jobs["failed"]]}).json == {"matched": 0}
    assert status_of(api, jobs["failed"])["status"] == "FAILED"


def test_requeued_priority_orders_the_queue(api, auth, jobs, stores):
    post(api, auth, "requeue", {"priority": 1})
    assert stores.executions.claim_next_queued("w").job_id == jobs["failed"]


@pytest.mark.parametrize(
    "body, detail",
    [
        (
            {"status": "DONE"},
            "Parameter \"status\" values must be one of: ['PENDING', 'BLOCKED', 'QUEUED', 'RUNNING', "
            "'FAILED', 'COMPLETED', 'CANCELED']",
        ),
        ({"job_ids": 5}, 'Parameter must be a valid list: "job_ids"'),
        ({"job_ids": ["x"]}, 'Parameter must be a valid integer: "job_ids"'),
        ({"error_ids": [1.5]}, 'Parameter must be a valid integer: "error_ids"'),
        (
            {"error_categories": ["USER"]},
            "Parameter \"error_categories\" values must be one of: ['SYSTEM', 'DATA', 'ALGORITHM']",
        ),
        ({"job_types": [{"name": "nope", "version": "1.0.0"}]}, 'Job type "nope" version "1.0.0" does not exist'),
        ({"job_types": ["alpha"]}, 'Parameter must be a valid JSON object: "job_types"'),
        ({"job_types": [{"name": "alpha"}]}, 'Missing required parameter: "version"'),
        ({"is_superseded": "perhaps"}, 'Parameter must be a valid boolean: "is_superseded"'),
        ({"started": "2020-01-02"}, "Invalid ISO timestamp format for parameter: started"),
        (
            {"started": "2020-01-01T00:00:00Z", "ended": "2020-01-01T00:00:00Z"},
            "Start and end values must be different",
        ),
        ({"started": "2020-01-02T00:00:00Z", "ended": "2020-01-01T00:00:00Z"}, "Start time must come before end time"),
    ],
)
@pytest.mark.parametrize("action", ["cancel", "requeue"])
def test_bad_filters_are_400(api, auth, jobs, action, body, detail):
    r = post(api, auth, action, body)
    assert (r.status_code, r.json["detail"]) == (400, detail)
    assert status_of(api, jobs["queued"])["status"] == "QUEUED"


@pytest.mark.parametrize("action", ["cancel", "requeue"])
def test_json_only(api, auth, action):
    r = api.simulate_post(f"/v6/jobs/{action}/", body="job_ids=1", headers={**auth, "Content-Type": "text/plain"})
    assert (r.status_code, r.json["detail"]) == (415, 'Unsupported media type "text/plain" in request.')
    r = api.simulate_post(
        f"/v6/jobs/{action}/", body='{"job_ids": [1', headers={**auth, "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json["detail"].startswith("JSON parse error - ")
    r = api.simulate_post(f"/v6/jobs/{action}/", body="[1]", headers={**auth, "Content-Type": "application/json"})
    assert (r.status_code, r.json["detail"]) == (400, "JSON parse error - the body must be a JSON object")
    assert api.simulate_post(f"/v6/jobs/{action}/", json={}).status_code == 401
    r = api.simulate_get(f"/v6/jobs/{action}/")
    assert (r.status_code, r.json["detail"]) == (405, 'Method "GET" not allowed.')


def race(api, auth, action: str, body: dict, n: int = 6) -> list[int]:
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: post(api, auth, action, body), range(n)))
    assert all(r.status_code == 202 for r in results), [r.json for r in results]
    return [r.json["matched"] for r in results]


def test_racing_cancels_and_requeues_leave_consistent_rows(api, auth, jobs, make_client, clock):
    # Each request runs on its own app (own engine and connections), like separate gunicorn workers.
    clients = [make_client(clock=clock) for _ in range(6)]
    for _ in range(3):
        with ThreadPoolExecutor(6) as pool:
            matched = list(pool.map(lambda c: post(c, auth, "cancel", {}).json["matched"], clients))
        assert sum(matched) == 3  # every cancelable job canceled exactly once
        with ThreadPoolExecutor(6) as pool:
            matched = list(pool.map(lambda c: post(c, auth, "requeue", {}).json["matched"], clients))
        assert sum(matched) == 3  # and requeued exactly once: num_exes went up by one, not by six
    for name, exes in (("queued", 4), ("running", 4), ("failed", 4)):
        job = status_of(api, jobs[name])
        assert (job["status"], job["num_exes"]) == ("QUEUED", exes), name
    exe = api.simulate_get(f"/v6/job-executions/{jobs['running_exe']}/").json
    assert exe["status"] == "CANCELED"
    assert race(api, auth, "cancel", {"job_ids": [jobs["failed"]]}).count(1) == 1
