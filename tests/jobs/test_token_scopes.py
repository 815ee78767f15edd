"""Personal tokens' scopes and lifetimes: an executor token starts, ends and reports executions and nothing
else; bound to a node, only that node's; every token expires, and a new password revokes them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.auth import EXECUTOR_ONLY
from jobs.errors import Invalid
from tests.jobs.helpers import add_job_type, manifest, queue


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def robot(stores):
    """A staff user without a password, as executors' owners are; its staff role must not leak to the scope."""
    stores.users.add_user("robot", None, is_staff=True)
    return stores.users


@pytest.fixture
def job_type(api, auth):
    return add_job_type(api, auth, manifest(files=()))


def test_an_executor_token_starts_and_finishes_executions_and_nothing_else(api, auth, robot, job_type, stores):
    token, info = robot.create_token("robot", "node-1 executor", scope="executor")
    assert info.scope == "executor" and info.node is None
    job = queue(api, auth, job_type["id"], {})
    r = api.simulate_post(f"/v6/jobs/{job['id']}/executions/", json={"node": "node-9"}, headers=bearer(token))
    assert r.status_code == 201, r.json
    exe_id = r.json["id"]
    r = api.simulate_patch(f"/v6/job-executions/{exe_id}/", json={"status": "COMPLETED"}, headers=bearer(token))
    assert r.status_code == 200 and r.json["status"] == "COMPLETED"
    # Reads as a read-only user does.
    assert api.simulate_get(f"/v6/jobs/{job['id']}/", headers=bearer(token)).status_code == 200
    # Every other write is refused, though its owner is staff.
    other = queue(api, auth, job_type["id"], {})
    refused = [
        api.simulate_post("/v6/jobs/cancel/", json={"job_ids": [other["id"]]}, headers=bearer(token)),
        api.simulate_post("/v6/jobs/requeue/", json={"job_ids": [job["id"]]}, headers=bearer(token)),
        api.simulate_post("/v6/jobs/", json={"job_type_id": job_type["id"], "input": {}}, headers=bearer(token)),
        api.simulate_post(
            "/v6/job-types/", json={"docker_image": "evil:1", "manifest": manifest("evil")}, headers=bearer(token)
        ),
    ]
    for r in refused:
        assert r.status_code == 403 and r.json["detail"] == EXECUTOR_ONLY
    assert stores.jobs.get_job(other["id"]).job["status"] == "QUEUED"
    assert [t["name"] for t in api.simulate_get("/v6/job-types/").json["results"]] == ["test-job"]
    # The same person's ordinary token acts as the staff user it belongs to.
    staff_token, _ = robot.create_token("robot", "operator")
    r = api.simulate_post("/v6/jobs/cancel/", json={"job_ids": [other["id"]]}, headers=bearer(staff_token))
    assert r.status_code == 202


def test_a_node_bound_executor_token_acts_only_on_its_node(api, auth, robot, job_type):
    token, info = robot.create_token("robot", "node-1 only", scope="executor", node="node-1")
    assert info.node == "node-1"
    job = queue(api, auth, job_type["id"], {})
    r = api.simulate_post(f"/v6/jobs/{job['id']}/executions/", json={"node": "node-2"}, headers=bearer(token))
    assert r.status_code == 403 and "node-1" in r.json["detail"]
    r = api.simulate_post(f"/v6/jobs/{job['id']}/executions/", json={"node": "node-1"}, headers=bearer(token))
    assert r.status_code == 201
    mine = r.json["id"]
    # An execution of another node (started by the admin) can't be ended with it.
    other_job = queue(api, auth, job_type["id"], {})
    r = api.simulate_post(f"/v6/jobs/{other_job['id']}/executions/", json={"node": "node-2"}, headers=auth)
    theirs = r.json["id"]
    r = api.simulate_patch(f"/v6/job-executions/{theirs}/", json={"status": "FAILED"}, headers=bearer(token))
    assert r.status_code == 403
    assert api.simulate_get(f"/v6/job-executions/{theirs}/").json["status"] == "RUNNING"
    r = api.simulate_patch(f"/v6/job-executions/{mine}/", json={"status": "COMPLETED"}, headers=bearer(token))
    assert r.status_code == 200
    r = api.simulate_patch("/v6/job-executions/999999/", json={"status": "COMPLETED"}, headers=bearer(token))
    assert r.status_code == 404


def test_tokens_expire(api, robot, clock):
    token, info = robot.create_token("robot", "short", days=1)
    assert info.expires == clock.now + timedelta(days=1)
    assert api.simulate_get("/v6/accounts/profile/", headers=bearer(token)).status_code == 200
    clock.advance(days=1)
    r = api.simulate_get("/v6/accounts/profile/", headers=bearer(token))
    assert r.status_code == 403
    _, info = robot.create_token("robot", "default")
    assert info.expires == clock.now + timedelta(days=90)
    for bad in (0, 10_000):
        with pytest.raises(Invalid, match="1 to 3660 days"):
            robot.create_token("robot", "x", days=bad)
    with pytest.raises(Invalid, match="Only an executor token"):
        robot.create_token("robot", "x", node="node-1")
    with pytest.raises(Invalid, match="scope"):
        robot.create_token("robot", "x", scope="root")


def test_a_new_password_revokes_every_token(api, stores):
    stores.users.add_user("dana", "dana's first password", is_staff=True)
    token, _ = stores.users.create_token("dana", "laptop")
    executor, _ = stores.users.create_token("dana", "runner", scope="executor")
    assert api.simulate_get("/v6/accounts/profile/", headers=bearer(token)).status_code == 200
    stores.users.set_password("dana", "dana's second password")
    for t in (token, executor):
        assert api.simulate_get("/v6/accounts/profile/", headers=bearer(t)).status_code == 403
    assert all(t.revoked is not None for t in stores.users.list_tokens("dana"))


def test_passwords_have_a_minimum_length(stores):
    with pytest.raises(Invalid, match="at least 8 characters"):
        stores.users.add_user("erin", "1234567")
    stores.users.add_user("erin", "12345678")
    with pytest.raises(Invalid, match="at least 8 characters"):
        stores.users.set_password("erin", "short")
