"""Executions: list and details, the executor routes, and the JobStore methods the log pipeline uses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from jobs.errors import JobStateConflict
from tests.jobs.helpers import add_job_type, finish, manifest, queue, start


@pytest.fixture
def job_type(api, auth):
    return add_job_type(
        api, auth, manifest(files=(), errors=[{"code": 2, "name": "bad-data", "title": "Bad data", "category": "data"}])
    )


@pytest.fixture
def job(api, auth, job_type):
    return queue(api, auth, job_type["id"], {})


def test_start_and_finish(api, auth, job, clock):
    exe = start(api, auth, job["id"], node="host-a")
    assert (exe["status"], exe["exe_num"], exe["cluster_id"]) == ("RUNNING", 1, f"scale_job_{job['id']}x1")
    assert exe["node"]["hostname"] == "host-a" and exe["job"] == {"id": job["id"]}
    details = api.simulate_get(f"/v6/jobs/{job['id']}/").json
    assert (details["status"], details["node"]["hostname"], details["started"]) == (
        "RUNNING",
        "host-a",
        "2020-01-01T00:00:00Z",
    )
    clock.advance(seconds=90)
    done = finish(api, auth, exe["id"], "COMPLETED", ended="2020-01-01T00:01:00Z")
    assert (done["status"], done["ended"]) == ("COMPLETED", "2020-01-01T00:01:00Z")
    assert api.simulate_get(f"/v6/jobs/{job['id']}/").json["status"] == "COMPLETED"


def test_start_conflicts_and_unknown_job(api, auth, job):
    start(api, auth, job["id"])
    r = api.simulate_post(f"/v6/jobs/{job['id']}/executions/", json={"node": "h"}, headers=auth)
    assert (r.status_code, r.json["detail"]) == (409, f"Job {job['id']} is RUNNING, not QUEUED")
    r = api.simulate_post("/v6/jobs/999999/executions/", json={"node": "h"}, headers=auth)
    assert (r.status_code, r.json["detail"]) == (404, "Not found.")
    r = api.simulate_post(f"/v6/jobs/{job['id']}/executions/", json={}, headers=auth)
    assert (r.status_code, r.json["detail"]) == (400, 'Missing required parameter: "node"')


def test_illegal_finish_is_409(api, auth, job):
    exe = start(api, auth, job["id"])
    finish(api, auth, exe["id"], "COMPLETED")
    r = api.simulate_patch(f"/v6/job-executions/{exe['id']}/", json={"status": "FAILED"}, headers=auth)
    assert (r.status_code, r.json["detail"]) == (409, f"Job execution {exe['id']} is COMPLETED, not RUNNING")
    r = api.simulate_patch("/v6/job-executions/999999/", json={"status": "FAILED"}, headers=auth)
    assert (r.status_code, r.json["detail"]) == (404, "Not found.")


@pytest.mark.parametrize(
    "body, detail",
    [
        ({}, 'Missing required parameter: "status"'),
        ({"status": "RUNNING"}, "Parameter \"status\" values must be one of: ['COMPLETED', 'FAILED', 'CANCELED']"),
        ({"status": "FAILED", "error": {"name": "no-such-error"}}, 'Unknown error name: "no-such-error"'),
        ({"status": "FAILED", "error": {"title": "x"}}, 'Missing required parameter: "category"'),
        ({"status": "COMPLETED", "error": {"name": "unknown"}}, "error is only allowed with status FAILED"),
        (
            {"status": "COMPLETED", "output": {"nope": 1}},
            "Invalid data: Additional properties are not allowed ('nope' was unexpected)",
        ),
        ({"status": "COMPLETED", "ended": "soon"}, "Invalid ISO timestamp format for parameter: ended"),
    ],
)
def test_bad_finish_is_400(api, auth, job, body, detail):
    exe = start(api, auth, job["id"])
    r = api.simulate_patch(f"/v6/job-executions/{exe['id']}/", json=body, headers=auth)
    assert (r.status_code, r.json["detail"]) == (400, detail)


def test_failure_with_a_retried_error_requeues_until_tries_run_out(api, auth, job):
    for exe_num in (1, 2, 3):
        exe = start(api, auth, job["id"])
        assert exe["exe_num"] == exe_num
        finish(api, auth, exe["id"], "FAILED", error={"name": "node-lost"})
    details = api.simulate_get(f"/v6/jobs/{job['id']}/").json
    assert (details["status"], details["num_exes"], details["error"]["name"]) == ("FAILED", 3, "node-lost")
    assert details["error"]["category"] == "SYSTEM"


def test_algorithm_and_job_type_errors_are_not_retried(api, auth, job, job_type):
    exe = start(api, auth, job["id"])
    done = finish(api, auth, exe["id"], "FAILED", error={"name": "bad-data"})
    assert done["error"]["name"] == "bad-data" and done["error"]["category"] == "DATA"
    assert api.simulate_get(f"/v6/jobs/{job['id']}/").json["status"] == "FAILED"
    other = queue(api, auth, job_type["id"], {})
    exe = start(api, auth, other["id"])
    done = finish(api, auth, exe["id"], "FAILED")
    assert done["error"]["name"] == "algorithm-unknown"
    third = queue(api, auth, job_type["id"], {})
    exe = start(api, auth, third["id"])
    done = finish(
        api, auth, exe["id"], "FAILED", error={"category": "SYSTEM", "title": "Disk full", "description": "no space"}
    )
    assert (done["error"]["name"], done["error"]["category"]) == ("disk-full", "SYSTEM")
    assert api.simulate_get(f"/v6/jobs/{third['id']}/").json["status"] == "QUEUED"  # SYSTEM: retried


def test_execution_list_details_and_filters(api, auth, job):
    first = start(api, auth, job["id"], node="a")
    finish(api, auth, first["id"], "FAILED", error={"name": "node-lost"})
    second = start(api, auth, job["id"], node="b")
    base = f"/v6/jobs/{job['id']}/executions/"

    def listed(query=""):
        r = api.simulate_get(base, query_string=query)
        assert r.status_code == 200, r.json
        return [e["id"] for e in r.json["results"]]

    assert listed() == [second["id"], first["id"]]
    assert listed("status=RUNNING") == [second["id"]]
    assert listed("status=FAILED&status=RUNNING") == [second["id"], first["id"]]
    assert listed(f"node_id={first['node']['id']}") == [first["id"]]
    error_id = api.simulate_get(f"/v6/job-executions/{first['id']}/").json["error"]["id"]
    assert listed(f"error_id={error_id}") == [first["id"]]
    assert listed("error_category=SYSTEM") == [first["id"]]
    assert listed("error_category=DATA") == []
    assert api.simulate_get("/v6/jobs/999999/executions/").json == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    r = api.simulate_get(base, query_string="status=QUEUED")
    assert (r.status_code, r.json["detail"]) == (
        400,
        "Parameter \"status\" values must be one of: ['RUNNING', 'FAILED', 'COMPLETED', 'CANCELED']",
    )
    by_num = api.simulate_get(f"{base}1/").json
    assert by_num == api.simulate_get(f"/v6/job-executions/{first['id']}/").json
    assert by_num["resources"] == {"resources": {"cpus": 0.25, "mem": 128.0, "disk": 0.0, "gpus": 0.0}}
    assert api.simulate_get(f"{base}9/").status_code == 404
    assert api.simulate_get("/v6/job-executions/999999/").json["detail"] == "Not found."


def test_log_targets(api, auth, job, stores):
    exe = start(api, auth, job["id"], node="host-a")
    target = stores.log_targets.execution_for_logs(exe["id"])
    assert (target.cluster_id, target.node, target.job_type_name, target.job_type_version) == (
        exe["cluster_id"],
        "host-a",
        "test-job",
        "1.0.0",
    )
    assert (target.status, target.is_finished, target.exe_num, target.job_id) == ("RUNNING", False, 1, job["id"])
    finish(api, auth, exe["id"], "CANCELED")
    assert stores.log_targets.execution_for_logs(exe["id"]).is_finished is True
    assert stores.log_targets.execution_for_logs(999999) is None
    assert [t.id for t in stores.log_targets.log_targets_of_job(job["id"])] == [exe["id"]]
    assert stores.log_targets.log_targets_of_job(999999) is None


def test_log_sequences_never_overlap(api, auth, job, stores):
    exe = start(api, auth, job["id"])
    assert stores.log_targets.reserve_log_sequence(exe["id"], 3) == 1
    assert stores.log_targets.reserve_log_sequence(exe["id"], 2) == 4
    with ThreadPoolExecutor(8) as pool:
        firsts = list(pool.map(lambda _: stores.log_targets.reserve_log_sequence(exe["id"], 10), range(16)))
    numbers = [n for first in firsts for n in range(first, first + 10)]
    assert sorted(numbers) == list(range(6, 6 + 160))


def test_claim_next_queued_and_stale_runs(api, auth, job_type, stores, clock):
    low = queue(api, auth, job_type["id"], {}, {"priority": 200})
    clock.advance(seconds=1)
    high = queue(api, auth, job_type["id"], {}, {"priority": 10})
    claimed = stores.executions.claim_next_queued("worker-1")
    assert (claimed.job_id, claimed.node, claimed.exe_num) == (high["id"], "worker-1", 1)
    assert stores.executions.claim_next_queued("worker-1").job_id == low["id"]
    assert stores.executions.claim_next_queued("worker-1") is None
    assert stores.executions.fail_stale_running("worker-1") == 2
    details = api.simulate_get(f"/v6/jobs/{high['id']}/").json
    assert (details["status"], details["num_exes"]) == ("QUEUED", 2)  # node-lost is retried
    assert api.simulate_get(f"/v6/jobs/{high['id']}/executions/1/").json["error"]["name"] == "node-lost"


def test_concurrent_claims_take_different_jobs(api, auth, job_type, stores):
    for _ in range(6):
        queue(api, auth, job_type["id"], {})
    with ThreadPoolExecutor(4) as pool:
        claimed = list(pool.map(lambda i: stores.executions.claim_next_queued(f"w{i}"), range(8)))
    jobs = [c.job_id for c in claimed if c is not None]
    assert len(jobs) == len(set(jobs)) == 6


def test_start_execution_conflict_in_the_store(job, stores):
    stores.executions.start_execution(job["id"], "h")
    with pytest.raises(JobStateConflict):
        stores.executions.start_execution(job["id"], "h")


def test_execution_details_link_to_the_log_and_to_kibana(api, auth, job, make_client, clock):
    exe = start(api, auth, job["id"])
    assert exe["log_url"] == f"http://falconframework.org/v6/job-executions/{exe['id']}/logs/combined/"
    assert exe["kibana_url"] is None  # KIBANA_URL not configured

    with_kibana = make_client(clock=clock, kibana_url="https://kibana.example.org")
    details = with_kibana.simulate_get(f"/v6/job-executions/{exe['id']}/").json
    assert details["kibana_url"].startswith("https://kibana.example.org/app/discover#/")
    assert exe["cluster_id"] in details["kibana_url"]
    by_num = with_kibana.simulate_get(f"/v6/jobs/{job['id']}/executions/1/").json
    assert by_num["log_url"] == exe["log_url"]
