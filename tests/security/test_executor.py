"""Attack: take an executor node's credential and use it for everything else. Executors used to hold a staff
credential (it could create job types, cancel and requeue every job, write any execution's log); a node-bound
executor token now starts, ends and writes only its own node's executions, and is refused (403) the rest."""

from __future__ import annotations

from api.auth import EXECUTOR_ONLY
from tests.conftest import ADMIN_TOKEN
from tests.factories import manifest

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
