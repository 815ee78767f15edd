"""Attack: take an executor node's credential and use it for everything else. Executors used to hold a staff
credential (it could create job types, cancel and requeue every job, write any execution's log); a node-bound
executor token now starts, ends and writes only its own node's executions, and is refused (403) the rest."""

from __future__ import annotations

import subprocess

import pytest

from api.auth import EXECUTOR_ONLY
from tests.conftest import ADMIN_TOKEN
from tests.factories import manifest
from tests.live_api import ROOT
from tests.reliability.harness import free_port
from worker.executor_client import ExecutorClient, ExecutorError, Refused

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def test_a_stolen_executor_token_can_do_nothing_but_its_nodes_work(client, stores):
    stores.users.add_user("executors", None, is_staff=True)  # a staff owner: the scope, not the owner, decides
    token, _ = stores.users.create_token("executors", "node-1", scope="executor", node="node-1")
    stolen = {"Authorization": f"Bearer {token}"}
    r = client.simulate_post("/v6/job-types/", json={"docker_image": "img:1", "manifest": manifest("t")}, headers=ADMIN)
    job_type_id = r.json["id"]
    jobs = [
        client.simulate_post("/v6/jobs/", json={"job_type_id": job_type_id, "input": {}}, headers=ADMIN).json["id"]
        for _ in range(3)
    ]
    # Its own work: start on node-1, send lines, finish.
    r = client.simulate_post(f"/v6/jobs/{jobs[0]}/executions/", json={"node": "node-1"}, headers=stolen)
    assert r.status_code == 201
    mine = r.json["id"]
    r = client.simulate_post(
        f"/v6/job-executions/{mine}/logs/", body=b'{"message":"ok","stream":"stdout"}\n', headers={**stolen, **NDJSON}
    )
    assert r.status_code == 202
    # Another node's execution (started by the admin): no lines, no ending it.
    theirs = client.simulate_post(f"/v6/jobs/{jobs[1]}/executions/", json={"node": "node-2"}, headers=ADMIN).json["id"]
    r = client.simulate_post(
        f"/v6/job-executions/{theirs}/logs/",
        body=b'{"message":"forged","stream":"stderr"}\n',
        headers={**stolen, **NDJSON},
    )
    assert r.status_code == 403
    assert (
        client.simulate_patch(f"/v6/job-executions/{theirs}/", json={"status": "FAILED"}, headers=stolen).status_code
        == 403
    )
    assert (
        client.simulate_post(f"/v6/jobs/{jobs[2]}/executions/", json={"node": "node-2"}, headers=stolen).status_code
        == 403
    )
    # Nothing else at all.
    for method, path, body in (
        ("POST", "/v6/jobs/cancel/", {"job_ids": jobs}),
        ("POST", "/v6/jobs/requeue/", {"job_ids": jobs}),
        ("POST", "/v6/job-types/", {"docker_image": "evil:1", "manifest": manifest("evil")}),
        ("POST", "/v6/jobs/", {"job_type_id": job_type_id, "input": {}}),
    ):
        r = client.simulate_request(method, path, json=body, headers=stolen)
        assert (r.status_code, r.json["detail"]) == (403, EXECUTOR_ONLY), path
    assert stores.jobs.get_job(jobs[2]).job["status"] == "QUEUED"
    assert client.simulate_get(f"/v6/job-executions/{theirs}/").json["status"] == "RUNNING"
    assert (
        client.simulate_patch(f"/v6/job-executions/{mine}/", json={"status": "COMPLETED"}, headers=stolen).status_code
        == 200
    )


def test_an_executor_cannot_create_an_index_a_day_nor_write_a_closed_log(make_client, stores, es, settings):
    """One request naming 300 days would have made 300 daily indices (shards for each: the cluster's shard limit
    is soon reached), some in days retention pruned, some in the future; and an ended execution's log stayed open
    to its executor forever. Now every stamp must lie in the execution's life, and its log closes after a grace."""
    from datetime import UTC, datetime, timedelta

    from tests.jobs.conftest import FrozenClock

    clock = FrozenClock(datetime.now(UTC))
    client = make_client(clock=clock)
    stores.users.add_user("executors", None, is_staff=False)
    token, _ = stores.users.create_token("executors", "node-1", scope="executor", node="node-1")
    stolen = {"Authorization": f"Bearer {token}", **NDJSON}
    r = client.simulate_post("/v6/job-types/", json={"docker_image": "img:1", "manifest": manifest("t")}, headers=ADMIN)
    job = client.simulate_post("/v6/jobs/", json={"job_type_id": r.json["id"], "input": {}}, headers=ADMIN).json["id"]
    exe = client.simulate_post(f"/v6/jobs/{job}/executions/", json={"node": "node-1"}, headers=stolen).json["id"]
    days = [datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=d * 10) for d in range(300)]
    body = "".join(f'{{"message":"x","stream":"stdout","@timestamp":"{d.isoformat()}"}}\n' for d in days)
    r = client.simulate_post(f"/v6/job-executions/{exe}/logs/", body=body.encode(), headers=stolen)
    assert r.status_code == 400 and "outside this execution's life" in r.json["detail"], r.text
    assert es.indices.get(index=f"{settings.log_index_prefix}-*", allow_no_indices=True) == {}
    # Its own execution, ended: a grace period for the last lines, then the log is closed.
    assert (
        client.simulate_patch(f"/v6/job-executions/{exe}/", json={"status": "COMPLETED"}, headers=stolen).status_code
        == 200
    )
    line = b'{"message":"forged afterwards","stream":"stderr"}\n'
    clock.advance(seconds=settings.log_grace_seconds + 1)
    r = client.simulate_post(f"/v6/job-executions/{exe}/logs/", body=line, headers=stolen)
    assert r.status_code == 409 and r.json["detail"].endswith("is now closed"), r.text


def test_the_executor_routes_act_only_for_the_tokens_own_node(client, stores):
    """What the worker and the Kubernetes engine call instead of opening the database: a node's token claims,
    renews, lists, recovers and moves only its own node's executions; other credentials but staff are refused."""
    stores.users.add_user("executors", None)
    mine = {
        "Authorization": f"Bearer {stores.users.create_token('executors', 'n1', scope='executor', node='node-1')[0]}"
    }
    stores.users.add_user("reader-person", None)
    personal = {"Authorization": f"Bearer {stores.users.create_token('reader-person', 'p')[0]}"}
    r = client.simulate_post("/v6/job-types/", json={"docker_image": "img:1", "manifest": manifest("t")}, headers=ADMIN)
    for _ in range(3):
        client.simulate_post("/v6/jobs/", json={"job_type_id": r.json["id"], "input": {}}, headers=ADMIN)
    lease = {"lease_seconds": 60}
    # Another node's work: refused before anything is claimed.
    assert client.simulate_post("/v6/executors/node-2/claim/", json=lease, headers=mine).status_code == 403
    # Not an executor, not staff: refused; no credential: 401.
    assert client.simulate_post("/v6/executors/node-1/claim/", json=lease, headers=personal).status_code == 403
    assert client.simulate_post("/v6/executors/node-1/claim/", json=lease).status_code == 401
    # Its own node: claimed with a lease.
    r = client.simulate_post("/v6/executors/node-1/claim/", json=lease, headers=mine)
    assert r.status_code == 200 and r.json["node"] == "node-1", r.text
    own = r.json["id"]
    assert set(r.json) >= {"manifest", "input", "configuration", "timeout", "cluster_id", "started"}
    # Staff may act for any node (the admin starts one on node-2).
    theirs = client.simulate_post("/v6/executors/node-2/claim/", json=lease, headers=ADMIN).json["id"]
    renew = {"executions": [own], "lease_seconds": 60}
    r = client.simulate_post("/v6/executors/node-1/leases/", json=renew, headers=mine)
    assert (r.status_code, r.json) == (200, {"ended": []})
    for method, path, body in (
        ("POST", "/v6/executors/node-1/leases/", {"executions": [own, theirs], "lease_seconds": 60}),
        ("POST", "/v6/executors/node-2/leases/", {"executions": [theirs], "lease_seconds": 60}),
        ("GET", "/v6/executors/node-2/running/", None),
        ("POST", "/v6/executors/node-2/running/", None),
        ("PUT", f"/v6/job-executions/{theirs}/node/", {"node": "node-1"}),
        ("PUT", f"/v6/job-executions/{own}/node/", {"node": "node-2"}),
        ("PATCH", f"/v6/job-executions/{theirs}/", {"status": "FAILED"}),
    ):
        r = client.simulate_request(method, path, json=body, headers=mine)
        assert r.status_code == 403, (method, path, r.text)
    assert client.simulate_get("/v6/executors/node-1/running/", headers=mine).json == {"running": [own]}
    assert client.simulate_get(f"/v6/job-executions/{theirs}/").json["status"] == "RUNNING"
    # Bad input: 400 naming the parameter.
    r = client.simulate_post("/v6/executors/node-1/claim/", json={"lease_seconds": 0}, headers=mine)
    assert r.status_code == 400 and "lease_seconds" in r.json["detail"]
    # Its own execution ended by the API (canceled, say): the next renewal says so, so the worker stops it.
    own_job = client.simulate_get(f"/v6/job-executions/{own}/").json["job"]["id"]
    assert client.simulate_post("/v6/jobs/cancel/", json={"job_ids": [own_job]}, headers=ADMIN).status_code == 202
    r = client.simulate_post("/v6/executors/node-1/leases/", json=renew, headers=mine)
    assert r.json == {"ended": [own]}
    # A restarted worker of node-1 fails what its predecessor left RUNNING (node-lost: retried), claims it again
    # and finishes it; then nothing is queued.
    assert client.simulate_post("/v6/executors/node-1/running/", headers=mine).json == {"failed": 0}
    first = client.simulate_post("/v6/executors/node-1/claim/", json=lease, headers=mine).json
    assert client.simulate_post("/v6/executors/node-1/running/", headers=mine).json == {"failed": 1}
    again = client.simulate_post("/v6/executors/node-1/claim/", json=lease, headers=mine).json
    assert (again["job_id"], again["exe_num"]) == (first["job_id"], 2)
    r = client.simulate_patch(f"/v6/job-executions/{again['id']}/", json={"status": "COMPLETED"}, headers=mine)
    assert (r.status_code, r.headers["X-Job-Status"]) == (200, "COMPLETED")
    assert client.simulate_post("/v6/executors/node-1/claim/", json=lease, headers=mine).status_code == 204


def test_the_executor_client_keeps_its_token_out_of_errors_and_is_refused_other_nodes(executor_api, stores):
    """worker/executor_client.py: a refusal is Refused (403), an unreachable service an ExecutorError after its
    retries; neither, nor the client's repr, shows the token."""
    api = executor_api("node-1")
    token = api.token
    other = ExecutorClient(api.url, token, "node-2")  # node-1's token, acting as node-2
    with pytest.raises(Refused) as refused:
        other.claim_next_queued("node-2", 60)
    with pytest.raises(Refused):
        other.renew_leases([1], 60)
    assert token not in str(refused.value) and token not in repr(other)
    other.close()
    down = ExecutorClient(f"http://127.0.0.1:{free_port()}", token, "node-1", retries=2, backoff=0.01)
    with pytest.raises(ExecutorError) as unreachable:
        down.fail_stale_running("node-1")
    assert "unreachable" in str(unreachable.value) and token not in str(unreachable.value)
    down.close()


def test_a_worker_with_a_token_nobody_holds_stops_with_one_line(executor_api, tmp_path):
    """`python -m worker` refused by the service at start (a revoked or mistyped token), or without the service's
    URL: one line on stderr naming the problem, never the token, and no traceback."""
    api = executor_api("node-1")
    forged = tmp_path / "forged-token"
    forged.write_text("scale_not-a-token-anybody-holds-0123456789\n")
    done = subprocess.run(
        api.argv("--once"), cwd=ROOT, env=api.env(EXECUTOR_TOKEN_FILE=str(forged)), capture_output=True, text=True
    )
    assert done.returncode == 69, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("python -m worker: POST /v6/executors/node-1/running/: 403"), done.stderr
    assert "not-a-token" not in done.stderr and "Traceback" not in done.stderr
    env = api.env()
    del env["SCALE_API_URL"]
    done = subprocess.run(api.argv("--once"), cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 78 and "SCALE_API_URL and EXECUTOR_TOKEN_FILE must be set" in done.stderr
