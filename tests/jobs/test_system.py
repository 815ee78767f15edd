"""GET /v6/version/, /v6/status/ and /v6/scheduler/: what every page of Scale's UI polls, in the shapes it reads
(navbar, status bar, node status model; see ../notes/scale-ui-contract.md 4.1-4.3). No Elasticsearch here: the
app of tests/jobs has no log services, so the status names the database as its only dependency."""

from __future__ import annotations

import re

import pytest

from core.version import VERSION
from jobs.statuses import JOB_STATUSES
from tests.jobs.helpers import add_job_type, finish, manifest, queue, start

ANGULAR = {"Accept": "application/json, text/plain, */*"}


def get(api, path: str, query: str = "") -> dict:
    r = api.simulate_get(path, query_string=query, headers=ANGULAR)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json


def ui_reads_node(node: dict, job_types: list[dict]) -> dict:
    """What NodeStatus's constructor does with a node (it throws on anything missing): its figures."""
    state_class = "label-" + node["state"]["name"].lower()
    failed = node["job_executions"]["failed"]
    figures = [
        failed["system"]["total"],
        failed["algorithm"]["total"],
        failed["data"]["total"],
        node["job_executions"]["completed"]["total"],
    ]
    titles = {t["id"]: t["title"] for t in job_types}
    running = {titles[r["job_type_id"]]: r["count"] for r in node["job_executions"]["running"]["by_job_type"]}
    for name in ("mem", "gpus", "disk", "cpus"):
        resource = node["resources"][name]
        assert resource["total"] - resource["unavailable"] >= 0 and resource["running"] >= 0
    return {
        "state": state_class,
        "errors": len(node["errors"]),
        "warnings": len(node["warnings"]),
        "figures": figures,
        "running": running,
    }


def test_version_is_ours(api):
    assert get(api, "/v6/version/") == {"version": VERSION}
    assert get(api, "/v7/version/") == {"version": VERSION}
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)  # the footer shows "Scale API v<version>"


def test_scheduler(api, auth):
    body = get(api, "/v6/scheduler/")
    assert body == {"is_paused": False, "num_message_handlers": 0, "system_logging_level": body["system_logging_level"]}
    assert body["system_logging_level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    # The UI's pause button sends a PATCH (with a body Scale itself refused): not offered here.
    r = api.simulate_patch("/v6/scheduler/", json={"params": {}}, headers=auth)
    assert (r.status_code, r.json) == (
        405,
        {"detail": 'Method "PATCH" not allowed.', "request_id": r.headers["X-Request-ID"]},
    )


def test_status_of_an_empty_system(api, clock):
    status = get(api, "/v6/status/")
    assert status["timestamp"] == status["last_updated"] == "2020-01-01T00:00:00Z"
    assert status["nodes"] == [] and status["job_types"] == [] and status["num_offers"] == 0
    assert status["job_counts"] == dict.fromkeys(JOB_STATUSES, 0)
    # The status bar's usage figures: every metric there, nothing in use.
    for name in ("cpus", "mem", "disk", "gpus"):
        assert status["resources"][name] == {"offered": 0, "total": 0, "running": 0, "free": 0, "unavailable": 0}
    scheduler = status["scheduler"]
    assert scheduler["state"]["name"] == "READY" and scheduler["state"]["title"] and scheduler["warnings"] == []
    assert scheduler["num_message_handlers"] == 0 and scheduler["system_logging_level"]
    assert scheduler["hostname"] and set(scheduler["mesos"]) == {"framework_id", "master_hostname", "master_port"}
    assert status["dependencies"] == {
        "database": {"OK": True, "detail": {"msg": "The database answers."}, "errors": [], "warnings": []}
    }
    assert status["system"]["database_update"]["is_completed"] is True
    assert get(api, "/v7/status/")["job_counts"] == status["job_counts"]


def test_status_reports_nodes_executions_and_job_counts(api, auth, clock):
    a = add_job_type(api, auth, manifest("a", files=(), title="Type A"))
    b = add_job_type(
        api, auth, manifest("b", files=(), title="Type B", errors=[{"code": 2, "name": "bad-file", "category": "data"}])
    )
    old = queue(api, auth, a["id"], {})["id"]
    finish(api, auth, start(api, auth, old, node="node-old")["id"], "COMPLETED")  # ends before the window
    clock.advance(hours=3, seconds=1)
    running = [queue(api, auth, t["id"], {})["id"] for t in (a, a, b)]
    for job_id in running:
        start(api, auth, job_id, node="node-1")
    done = queue(api, auth, b["id"], {})["id"]
    finish(api, auth, start(api, auth, done, node="node-2")["id"], "COMPLETED")
    data = queue(api, auth, b["id"], {})["id"]
    finish(api, auth, start(api, auth, data, node="node-2")["id"], "FAILED", error={"name": "bad-file"})
    retried = queue(api, auth, a["id"], {})["id"]  # a system error is retried: one failed execution, job QUEUED
    finish(
        api,
        auth,
        start(api, auth, retried, node="node-2")["id"],
        "FAILED",
        error={"category": "SYSTEM", "title": "Disk full"},
    )
    algorithm = queue(api, auth, a["id"], {})["id"]
    finish(api, auth, start(api, auth, algorithm, node="node-1")["id"], "FAILED")  # default: algorithm-unknown
    queue(api, auth, a["id"], {})
    canceled = queue(api, auth, b["id"], {})["id"]  # its execution ends CANCELED: neither running nor counted
    start(api, auth, canceled, node="node-2")
    assert api.simulate_post("/v6/jobs/cancel/", json={"job_ids": [canceled]}, headers=auth).json == {"matched": 1}

    status = get(api, "/v6/status/")
    assert [n["hostname"] for n in status["nodes"]] == ["node-1", "node-2", "node-old"]
    assert {t["id"]: (t["name"], t["title"], t["icon_code"]) for t in status["job_types"]} == {
        a["id"]: ("a", "Type A", "f1b2"),
        b["id"]: ("b", "Type B", "f1b2"),
    }
    node_1, node_2, node_old = (ui_reads_node(n, status["job_types"]) for n in status["nodes"])
    assert node_1 == {
        "state": "label-ready",
        "errors": 0,
        "warnings": 0,
        "figures": [0, 1, 0, 0],
        "running": {"Type A": 2, "Type B": 1},
    }
    assert node_2 == {"state": "label-idle", "errors": 0, "warnings": 0, "figures": [1, 0, 1, 1], "running": {}}
    assert node_old == {"state": "label-idle", "errors": 0, "warnings": 0, "figures": [0, 0, 0, 0], "running": {}}
    by_type = status["nodes"][0]["job_executions"]["running"]
    assert by_type == {
        "total": 3,
        "by_job_type": [{"job_type_id": a["id"], "count": 2}, {"job_type_id": b["id"], "count": 1}],
    }
    failed = status["nodes"][1]["job_executions"]["failed"]
    assert failed["total"] == 2 and failed["data"]["by_job_type"] == [{"job_type_id": b["id"], "count": 1}]
    assert status["job_counts"] == {
        "PENDING": 0,
        "BLOCKED": 0,
        "QUEUED": 2,
        "RUNNING": 3,
        "FAILED": 2,
        "COMPLETED": 2,
        "CANCELED": 1,
    }
    for job_status, n in status["job_counts"].items():  # the same numbers the job list gives
        assert get(api, "/v6/jobs/", f"status={job_status}")["count"] == n
    assert status["timestamp"] == "2020-01-01T03:00:01Z"

    # Three hours later the finished executions have left the window; the running ones stay.
    clock.advance(hours=3, seconds=1)
    later = get(api, "/v6/status/")
    assert [ui_reads_node(n, later["job_types"])["figures"] for n in later["nodes"]] == [[0, 0, 0, 0]] * 3
    assert later["nodes"][0]["job_executions"]["running"]["total"] == 3


@pytest.mark.parametrize("path", ["/v6/status/", "/v6/version/", "/v6/scheduler/"])
def test_always_200_even_without_the_database(make_client, tmp_path, path):
    down = make_client(database_url=f"sqlite:///{tmp_path / 'missing' / 'nowhere.db'}")
    r = down.simulate_get(path, headers=ANGULAR)
    assert r.status_code == 200
    if path == "/v6/status/":
        database = r.json["dependencies"]["database"]
        assert database["OK"] is False and database["detail"]["msg"] == "The database is unavailable."
        assert database["errors"] == [{"DATABASE_UNAVAILABLE": "The database is unavailable."}]
        assert r.json["nodes"] == [] and r.json["scheduler"]["state"]["name"] == "READY"
        assert r.json["system"]["database_update"]["is_completed"] is False
