"""Scale's UI dashboard, Running Jobs and Queued Jobs pages: /v6/job-types/status/, /v6/job-types/running/ and
/v6/queue/status/ replayed as the UI sends them (Angular's Accept header, page_size=1000, its date strings,
is_active=true) with the figures the pages show asserted. Every response is validated against the OpenAPI document.
"""

from __future__ import annotations

import pytest

from tests.jobs.helpers import add_job_type, finish, manifest, queue, start

ANGULAR = {"Accept": "application/json, text/plain, */*"}


def get(api, path: str, query: str = ""):
    r = api.simulate_get(path, query_string=query, headers=ANGULAR)
    assert r.status_code == 200, (path, query, r.status_code, r.text)
    return r.json


@pytest.fixture
def board(api, auth, clock, stores):
    """Three job types (one deprecated) and jobs in every state the pages count, at known times."""
    errors = [{"code": 3, "name": "bad-input", "title": "Bad input", "category": "data"}]
    algo = add_job_type(api, auth, manifest("my-algo", files=(), title="My Algorithm", errors=errors), icon_code="f0c3")
    other = add_job_type(api, auth, manifest("other", files=(), title="Other"))
    retired = add_job_type(api, auth, manifest("retired", files=()), is_active=False)
    out = {"algo": algo, "other": other, "retired": retired}
    clock.advance(minutes=1)  # 00:01
    out["done"] = queue(api, auth, algo["id"], {})["id"]
    finish(api, auth, start(api, auth, out["done"])["id"], "COMPLETED")
    out["running_1"] = queue(api, auth, algo["id"], {})["id"]
    start(api, auth, out["running_1"], node="node-a")
    clock.advance(minutes=1)  # 00:02
    out["running_2"] = queue(api, auth, algo["id"], {})["id"]
    start(api, auth, out["running_2"], node="node-b")
    out["data_failure"] = queue(api, auth, algo["id"], {})["id"]
    finish(api, auth, start(api, auth, out["data_failure"])["id"], "FAILED", error={"name": "bad-input"})
    out["algo_failure"] = queue(api, auth, algo["id"], {})["id"]
    finish(api, auth, start(api, auth, out["algo_failure"])["id"], "FAILED")  # algorithm-unknown
    clock.advance(minutes=1)  # 00:03
    out["queued_other"] = queue(api, auth, other["id"], {})["id"]
    out["queued_urgent"] = queue(api, auth, other["id"], {}, {"priority": 5})["id"]
    clock.advance(minutes=1)  # 00:04
    out["queued_algo"] = queue(api, auth, algo["id"], {})["id"]
    out["canceled"] = queue(api, auth, other["id"], {})["id"]
    r = api.simulate_post("/v6/jobs/cancel/", json={"job_ids": [out["canceled"]]}, headers=auth)
    assert r.status_code == 202
    return out


def counts_of(item: dict) -> dict:
    return {(c["status"], c["category"]): (c["count"], c["most_recent"]) for c in item["job_counts"]}


def test_dashboard_status_as_the_ui_sends_it(api, board):
    query = "page=1&page_size=1000&started=2019-12-31T00:00:00.000Z&ended=2020-01-01T23:59:59.999Z&is_active=true"
    page = get(api, "/v6/job-types/status/", query)
    assert page["count"] == 2 and page["next"] is None
    by_name = {item["job_type"]["name"]: item for item in page["results"]}
    assert set(by_name) == {"my-algo", "other"}  # the deprecated type is left out by is_active=true
    algo = by_name["my-algo"]
    assert algo["job_type"]["icon_code"] == "f0c3" and algo["job_type"]["title"] == "My Algorithm"
    assert counts_of(algo) == {
        ("COMPLETED", None): (1, "2020-01-01T00:01:00Z"),
        ("RUNNING", None): (2, "2020-01-01T00:02:00Z"),
        ("FAILED", "DATA"): (1, "2020-01-01T00:02:00Z"),
        ("FAILED", "ALGORITHM"): (1, "2020-01-01T00:02:00Z"),
        ("QUEUED", None): (1, "2020-01-01T00:04:00Z"),
    }
    assert counts_of(by_name["other"]) == {
        ("QUEUED", None): (2, "2020-01-01T00:03:00Z"),
        ("CANCELED", None): (1, "2020-01-01T00:04:00Z"),
    }
    # Without is_active every type is listed, in Scale's order (last modified first), a type without jobs too.
    everything = get(api, "/v6/job-types/status/", "page_size=1000&started=2019-12-31T00:00:00.000Z")
    assert [item["job_type"]["name"] for item in everything["results"]] == ["my-algo", "other", "retired"]
    assert everything["results"][2]["job_counts"] == []


def test_dashboard_window(api, board, clock):
    # A window that ends before the failures: only what changed by then, and every RUNNING job whatever the window.
    page = get(api, "/v6/job-types/status/", "started=2020-01-01T00:00:00Z&ended=2020-01-01T00:01:30Z")
    algo = next(i for i in page["results"] if i["job_type"]["name"] == "my-algo")
    assert counts_of(algo) == {
        ("COMPLETED", None): (1, "2020-01-01T00:01:00Z"),
        ("RUNNING", None): (2, "2020-01-01T00:02:00Z"),
    }
    # Scale's default window is the last three hours: four hours later only the running jobs are counted.
    clock.advance(hours=4)
    page = get(api, "/v6/job-types/status/")
    assert {i["job_type"]["name"]: counts_of(i) for i in page["results"]} == {
        "my-algo": {("RUNNING", None): (2, "2020-01-01T00:02:00Z")},
        "other": {},
        "retired": {},
    }
    # A duration, as Scale reads them: now minus that.
    page = get(api, "/v6/job-types/status/", "started=PT5H0M0S&is_active=true")
    assert sum(c["count"] for i in page["results"] for c in i["job_counts"]) == 9


@pytest.mark.parametrize(
    "query, detail",
    [
        ("started=yesterday", "Invalid ISO timestamp format for parameter: started"),
        ("started=2020-01-01T00:00:00Z&ended=2020-01-01T00:00:00Z", "Start and end values must be different"),
        ("started=2020-01-02T00:00:00Z&ended=2020-01-01T00:00:00Z", "Start time must come before end time"),
        ("is_active=maybe", 'Parameter must be a valid boolean: "is_active"'),
        ("page_size=x", 'Parameter must be a valid integer: "page_size"'),
    ],
)
def test_dashboard_bad_parameters(api, board, query, detail):
    r = api.simulate_get("/v6/job-types/status/", query_string=query, headers=ANGULAR)
    assert (r.status_code, r.json["detail"]) == (400, detail)


def test_running_jobs_page(api, auth, board, clock):
    page = get(api, "/v6/job-types/running/", "page=1&page_size=20")
    assert page["count"] == 1
    assert get(api, "/v6/job-types/running/", "page=1&page_size=null") == page  # a table without a row count yet
    (algo,) = page["results"]
    assert (algo["job_type"]["name"], algo["count"], algo["longest_running"]) == ("my-algo", 2, "2020-01-01T00:01:00Z")
    # Another type starts running later: the longest running type stays first.
    clock.advance(minutes=1)
    start(api, auth, board["queued_other"], node="node-c")
    page = get(api, "/v6/job-types/running/", "page=1&page_size=20")
    assert [(r["job_type"]["name"], r["count"]) for r in page["results"]] == [("my-algo", 2), ("other", 1)]
    assert page["results"][1]["longest_running"] == "2020-01-01T00:05:00Z"
    # Paged like every list.
    second = get(api, "/v6/job-types/running/", "page=2&page_size=1")
    assert [r["job_type"]["name"] for r in second["results"]] == ["other"] and second["next"] is None
    assert second["previous"].endswith("/v6/job-types/running/?page_size=1")


def test_queued_jobs_page(api, auth, board, clock):
    page = get(api, "/v6/queue/status/")
    got = [(r["job_type"]["name"], r["count"], r["longest_queued"], r["highest_priority"]) for r in page["results"]]
    # The highest priority (the lowest number) first, then the longest queued.
    assert got == [("other", 2, "2020-01-01T00:03:00Z", 5), ("my-algo", 1, "2020-01-01T00:04:00Z", 100)]
    # A paused type goes last, as Scale ordered the queue; its icon and pause show in the row.
    r = api.simulate_patch("/v6/job-types/other/1.0.0/", json={"is_paused": True}, headers=auth)
    assert r.status_code in (200, 204), r.text
    page = get(api, "/v6/queue/status/")
    assert [(r["job_type"]["name"], r["job_type"]["is_paused"]) for r in page["results"]] == [
        ("my-algo", False),
        ("other", True),
    ]
    # Once its jobs run or end, a type leaves the queue.
    finish(api, auth, start(api, auth, board["queued_algo"])["id"], "COMPLETED")
    assert [r["job_type"]["name"] for r in get(api, "/v6/queue/status/")["results"]] == ["other"]


def test_empty_service(api):
    for path in ("/v6/job-types/status/", "/v6/job-types/running/", "/v6/queue/status/"):
        assert get(api, path, "page=1&page_size=20") == {"count": 0, "next": None, "previous": None, "results": []}


def test_load_is_the_current_figures(api, auth, board, clock):
    # The dashboard's and Queued Jobs' load charts: started/ended as the UI writes them, job types repeated.
    query = "started=2019-12-31T00:00:00.000Z&ended=2020-01-01T23:59:59.999Z"
    page = get(api, "/v6/load/", query)
    assert page["results"] == [
        {"time": "2020-01-01T00:04:00Z", "pending_count": 0, "queued_count": 3, "running_count": 2}
    ]
    algo, other = board["algo"]["id"], board["other"]["id"]
    (point,) = get(api, "/v6/load/", f"{query}&job_type_id={other}")["results"]
    assert (point["queued_count"], point["running_count"]) == (2, 0)
    (point,) = get(api, "/v6/load/", f"{query}&job_type_id={other}&job_type_id={algo}")["results"]
    assert (point["queued_count"], point["running_count"]) == (3, 2)
    # No samples are kept: a window that does not hold now has no point.
    assert get(api, "/v6/load/", "started=2019-12-01T00:00:00Z&ended=2019-12-02T00:00:00Z")["count"] == 0


def test_every_scale_ui_route_is_documented(api):
    doc = api.simulate_get("/v6/openapi.json").json
    routes = {
        "/v6/job-types/status/": {"get"},
        "/v6/job-types/running/": {"get"},
        "/v6/queue/status/": {"get"},
        "/v6/load/": {"get"},
        "/v6/job-types/validation/": {"post"},
        "/v6/job-types/{name}/{version}/": {"get", "patch"},
        "/v6/job-type-names/": {"get"},
        "/v6/job-types/{name}/": {"get"},
        "/v6/nodes/": {"get"},
        "/v6/nodes/{node_id}/": {"get"},
        "/v6/workspaces/": {"get", "post"},
        "/v6/workspaces/{workspace_id}/": {"get", "patch"},
        "/v6/workspaces/validation/": {"post"},
        "/v6/metrics/": {"get"},
        "/v6/metrics/{name}/": {"get"},
        "/v6/metrics/{name}/plot-data/": {"get"},
        "/v6/errors/": {"get"},
        "/v6/errors/{error_id}/": {"get"},
        "/v6/timeline/job-types/": {"get"},
        "/v6/recipe-types/": {"get"},
        "/v6/timeline/recipe-types/": {"get"},
    }
    for path, methods in routes.items():
        assert methods == set(doc["paths"][path]) - {"head"}, path
        for method in methods - {"get"}:
            assert doc["paths"][path][method]["security"] == [{"bearer": []}, {"session": []}], (path, method)
    params = {p["name"] for p in doc["paths"]["/v6/job-types/status/"]["get"]["parameters"]}
    assert params == {"started", "ended", "is_active", "page", "page_size"}
