"""Scale's web UI (ngageoint/scale-ui 0.17) as a client of the job routes: its requests replayed as it sends them
(Angular's Accept header, repeated keys, its date strings, dotted orders, stray body keys) and the fields its
pages read asserted (see ../notes/scale-ui-contract.md and the behaviour page's section 8).

Every response is also validated against the served OpenAPI document (tests/jobs/contract.py).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import update

from jobs.models import Job
from tests.jobs.helpers import add_job_type, finish, manifest, queue, start

# What Angular's HttpClient sends when the app sets no Accept header (it never does).
ANGULAR = {"Accept": "application/json, text/plain, */*"}
# The jobs page's temporal filter: a day back from the start of yesterday to the end of today (in the future),
# as Date.toISOString() writes them. The frozen clock stands at 2020-01-01T00:00Z plus what the tests advance.
WINDOW = "started=2019-12-31T00:00:00.000Z&ended=2020-01-01T23:59:59.999Z"
# What the UI reads of a job type (JobType model) and of a job in the list (Job model).
JOB_TYPE_READ = (
    "id",
    "name",
    "version",
    "title",
    "description",
    "icon_code",
    "is_published",
    "is_active",
    "is_paused",
    "is_system",
    "max_scheduled",
    "revision_num",
    "docker_image",
    "unmet_resources",
    "created",
    "deprecated",
    "paused",
    "last_modified",
)
UI_URL = "/local/v6/jobs/cancel/"  # the body key the UI leaves in by posting its params object whole


@pytest.fixture
def ui(api, auth, stores, clock, refs) -> dict:
    """Two versions of one job type, another type, and jobs in the states the pages show."""
    v1 = add_job_type(api, auth, manifest("my-algo", "1.0.0", files=(), title="My Algorithm"), icon_code="f0c3")
    v2 = add_job_type(
        api,
        auth,
        manifest(
            "my-algo",
            "2.0.0",
            files=(),
            title="My Algorithm",
            errors=[{"code": 3, "name": "bad-input", "title": "Bad input", "category": "data"}],
        ),
    )
    other = add_job_type(api, auth, manifest("other", "1.0.0", files=(), title="Other"))
    out = {"v1": v1, "v2": v2, "other": other}
    clock.advance(minutes=1)
    out["queued_v1"] = queue(api, auth, v1["id"], {})["id"]
    out["running_v2"] = queue(api, auth, v2["id"], {})["id"]
    out["running_exe"] = start(api, auth, out["running_v2"], node="node-b")["id"]
    clock.advance(minutes=1)
    out["failed_v2"] = queue(api, auth, v2["id"], {})["id"]
    out["failed_exe"] = start(api, auth, out["failed_v2"], node="node-a")["id"]
    clock.advance(minutes=1)
    finish(api, auth, out["failed_exe"], "FAILED", error={"name": "bad-input"})
    clock.advance(minutes=1)
    out["system_other"] = queue(api, auth, other["id"], {})["id"]
    exe = start(api, auth, out["system_other"], node="node-c")["id"]
    finish(api, auth, exe, "FAILED", error={"category": "SYSTEM", "title": "Disk gone"})  # retried: QUEUED again
    finish(
        api,
        auth,
        start(api, auth, out["system_other"], node="node-c")["id"],
        "FAILED",
        error={"category": "ALGORITHM", "title": "Crashed"},
    )
    clock.advance(minutes=1)
    out["completed_v1"] = queue(api, auth, v1["id"], {})["id"]
    finish(api, auth, start(api, auth, out["completed_v1"], node="node-a")["id"], "COMPLETED")
    return out


def get(api, path: str, query: str = ""):
    r = api.simulate_get(path, query_string=query, headers=ANGULAR)
    assert r.status_code == 200, (path, query, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    return r.json


def listed(api, query: str) -> list[int]:
    return [job["id"] for job in get(api, "/v6/jobs/", query)["results"]]


def test_job_types_for_the_jobs_page(api, auth, ui):
    inactive = add_job_type(api, auth, manifest("retired", files=()), is_active=False)
    page = get(api, "/v6/job-types/", "page_size=1000&is_active=true")
    assert page["count"] == 3 and inactive["id"] not in [t["id"] for t in page["results"]]
    for job_type in page["results"]:
        assert set(JOB_TYPE_READ) <= set(job_type)
        assert isinstance(job_type["icon_code"], str) and job_type["icon_code"]  # never "&#xnull;"
        assert job_type["unmet_resources"] is None or isinstance(job_type["unmet_resources"], str)
        for label_part in ("title", "version"):  # the multiselect's label is "title version"
            assert isinstance(job_type[label_part], str) and job_type[label_part].strip(), label_part
    assert {t["name"]: t["icon_code"] for t in page["results"] if t["version"] == "1.0.0"} == {
        "my-algo": "f0c3",
        "other": "f1b2",
    }


def test_jobs_page_request_as_sent(api, ui):
    query = (
        f"order=-last_modified&page=1&page_size=20&{WINDOW}&status=RUNNING&status=FAILED&status=PENDING"
        "&error_category=DATA&sortField=last_modified&sortOrder=-1&include_superseded=false"
        "&job_type_category=stuff"
    )
    page = get(api, "/v6/jobs/", query)
    assert page["count"] == 1 and [job["id"] for job in page["results"]] == [ui["failed_v2"]]
    job = page["results"][0]
    assert set(job["job_type"]) >= {"icon_code", "title", "version", "name", "unmet_resources"}
    assert (job["job_type"]["icon_code"], job["job_type"]["title"], job["job_type"]["version"]) == (
        "f1b2",
        "My Algorithm",
        "2.0.0",
    )
    assert job["status"] == "FAILED" and isinstance(job["status"], str)
    assert job["node"]["hostname"] == "node-a"
    assert job["error"]["category"] == "DATA" and job["error"]["title"] == "Bad input"
    assert "description" in job["error"] and job["recipe"] is None and job["is_superseded"] is False
    assert (job["num_exes"], job["max_tries"]) == (1, 3)
    assert job["event"]["occurred"] == "2020-01-01T00:02:00Z"
    assert (job["created"], job["started"], job["ended"]) == (
        "2020-01-01T00:02:00Z",
        "2020-01-01T00:02:00Z",
        "2020-01-01T00:03:00Z",
    )
    assert job["last_modified"] == "2020-01-01T00:03:00Z"
    # Every status the UI offers, PENDING included, repeated; the window's end lies in the future.
    statuses = "&".join(f"status={s}" for s in ("CANCELED", "COMPLETED", "FAILED", "PENDING", "QUEUED", "RUNNING"))
    assert get(api, "/v6/jobs/", f"{WINDOW}&{statuses}&page_size=20")["count"] == 5
    assert get(api, "/v6/jobs/", "status=PENDING")["count"] == 0
    assert get(api, "/v6/jobs/", "ended=2026-12-02T00:00:00.000Z&started=2019-12-31T23:59:59.123Z")["count"] == 5
    # The confirm dialogs of "cancel all" and "requeue all" count with the page's filters plus two statuses.
    assert get(api, "/v6/jobs/", f"{WINDOW}&status=CANCELED&status=FAILED")["count"] == 2
    assert get(api, "/v6/jobs/", f"{WINDOW}&status=RUNNING&status=QUEUED")["count"] == 2


def test_job_type_links_pass_name_and_version(api, ui):
    # The dashboard's job type tile links to the jobs page with both; the page sends them on.
    assert listed(api, f"{WINDOW}&job_type_name=my-algo&job_type_version=1.0.0&order=id") == [
        ui["queued_v1"],
        ui["completed_v1"],
    ]
    assert listed(api, f"{WINDOW}&job_type_name=my-algo&job_type_version=2.0.0&order=id") == [
        ui["running_v2"],
        ui["failed_v2"],
    ]
    # Several types chosen in the multiselect: names and versions in parallel, pair by pair.
    query = "job_type_name=my-algo&job_type_name=other&job_type_version=2.0.0&job_type_version=1.0.0&order=id"
    assert listed(api, query) == [ui["running_v2"], ui["failed_v2"], ui["system_other"]]
    assert get(api, "/v6/jobs/", query)["count"] == 3
    assert listed(api, "job_type_name=my-algo&order=id") == [
        ui["queued_v1"],
        ui["running_v2"],
        ui["failed_v2"],
        ui["completed_v1"],
    ]
    assert listed(api, "job_type_version=1.0.0&order=id") == [ui["queued_v1"], ui["system_other"], ui["completed_v1"]]
    assert listed(api, "job_type_name=my-algo&job_type_version=9.9.9") == []
    r = api.simulate_get("/v6/jobs/", query_string="job_type_name=my-algo&job_type_name=other&job_type_version=1.0.0")
    assert r.status_code == 400 and "job_type_version" in r.json["detail"]


@pytest.mark.parametrize(
    "dotted, plain",
    [
        ("error.category", "error__category"),
        ("-error.category", "-error__category"),
        ("error.title", "error__title"),
        ("-error.title", "-error__title"),
        ("node.hostname", "node__hostname"),
        ("-node.hostname", "-node__hostname"),
        ("job_type.name", "job_type__name"),
        ("-job_type.version", "-job_type__version"),
        ("job_type.title", "job_type__title"),
        ("recipe.id", "recipe__id"),
    ],
)
def test_dotted_order_names_are_aliases(api, ui, dotted, plain):
    got = listed(api, f"order={dotted}&order=-id")
    assert got == listed(api, f"order={plain}&order=-id") and len(got) == 5


def _related_id(name: str):
    return lambda job: job[name]["id"] if job[name] is not None else None


def _moment(name: str):
    return lambda job: datetime.fromisoformat(job[name]) if job[name] else None


def _duration(job: dict):
    if not (job["started"] and job["ended"]):
        return None
    return datetime.fromisoformat(job["ended"]) - datetime.fromisoformat(job["started"])


# What each column of Scale's job list orders by, read from the listed jobs: a bare relation by its id
# (Django's rule), duration as ended - started.
UI_COLUMNS = {
    "job_type": _related_id("job_type"),
    "recipe": _related_id("recipe"),
    "created": _moment("created"),
    "last_modified": _moment("last_modified"),
    "node": _related_id("node"),
    "duration": _duration,
    "status": lambda job: job["status"],
    "error": _related_id("error"),
}


def reference_order(jobs: list[dict], column: str, descending: bool) -> list[int]:
    """The ids in the order the list must give: the column's value, NULLs last ascending and first descending
    (PostgreSQL's rule, kept on SQLite), then id ascending."""
    value = UI_COLUMNS[column]
    by_id = sorted(jobs, key=lambda job: job["id"])
    present = sorted((j for j in by_id if value(j) is not None), key=value, reverse=descending)  # stable: id
    absent = [j for j in by_id if value(j) is None]
    return [j["id"] for j in (absent + present if descending else present + absent)]


def test_orders_of_the_ui_columns(api, ui):
    assert listed(api, "order=-error.category&order=id")[:2] == [ui["queued_v1"], ui["running_v2"]]  # NULLs first
    assert listed(api, "order=error.category&order=id")[:2] == [ui["system_other"], ui["failed_v2"]]  # ALGORITHM, DATA
    assert listed(api, "order=node.hostname&order=id")[:3] == [ui["failed_v2"], ui["completed_v1"], ui["running_v2"]]
    jobs = get(api, "/v6/jobs/", f"{WINDOW}&page_size=20")["results"]
    assert len(jobs) == 5
    for column in UI_COLUMNS:
        for descending in (False, True):
            got = listed(api, f"{WINDOW}&order={'-' if descending else ''}{column}&page=1&page_size=20")
            assert got == reference_order(jobs, column, descending), (column, descending)
    for bad in ("error.colour", "nothing.name", "error.category.name", "job_type.manifest"):
        r = api.simulate_get("/v6/jobs/", query_string=f"order=-{bad}", headers=ANGULAR)
        detail = f'Invalid order field: "{bad}"'
        assert (r.status_code, r.json) == (400, {"detail": detail, "request_id": r.headers["X-Request-ID"]})


def test_details_page_fields(api, auth, ui, stores):
    job = get(api, f"/v6/jobs/{ui['failed_v2']}/")
    assert (job["job_type"]["icon_code"], job["job_type"]["title"], job["job_type"]["version"]) == (
        "f1b2",
        "My Algorithm",
        "2.0.0",
    )
    assert job["event"]["type"] == "USER" and job["event"]["occurred"] == "2020-01-01T00:02:00Z"
    assert (job["priority"], job["max_tries"], job["timeout"], job["num_exes"]) == (100, 3, 10, 1)
    assert job["configuration"]["priority"] == job["priority"]
    assert job["input"] == {"files": {}, "json": {}} and job["output"] == {"files": {}, "json": {}}
    assert job["superseded_job"] is None and job["superseded_by_job"] is None
    assert job["last_status_change"] == "2020-01-01T00:03:00Z" and job["queued"] == "2020-01-01T00:02:00Z"
    assert job["error"] == {
        "id": job["error"]["id"],
        "name": "bad-input",
        "title": "Bad input",
        "description": None,
        "category": "DATA",
    }
    exe = job["execution"]
    assert (exe["id"], exe["status"], exe["exe_num"], exe["ended"]) == (
        ui["failed_exe"],
        "FAILED",
        1,
        "2020-01-01T00:03:00Z",
    )
    assert exe["error"]["category"] == "DATA"

    # A job that supersedes this one: the overview renders superseded_job.job_type.manifest.job.title/jobVersion.
    newer = stores.jobs.create_job(ui["v2"]["id"], {}, superseded_job_id=ui["failed_v2"])
    details = get(api, f"/v6/jobs/{newer}/")
    superseded = details["superseded_job"]
    assert (superseded["id"], superseded["status"]) == (ui["failed_v2"], "FAILED")
    assert superseded["job_type"]["manifest"]["job"] == {
        "name": "my-algo",
        "jobVersion": "2.0.0",
        "title": "My Algorithm",
    }
    assert superseded["job_type"]["icon_code"] == "f1b2"
    older = get(api, f"/v6/jobs/{ui['failed_v2']}/")["superseded_by_job"]
    assert (older["id"], older["status"], older["job_type"]["version"]) == (newer, "QUEUED", "2.0.0")


def test_execution_is_the_current_try_and_executions_are_newest_first(api, auth, ui):
    job_id = ui["failed_v2"]
    r = api.simulate_post(
        "/v6/jobs/requeue/",
        json={
            "job_type_names": ["my-algo"],
            "job_ids": [job_id],
            "status": "FAILED",
            "url": UI_URL.replace("cancel", "requeue"),
        },
        headers={**ANGULAR, **auth},
    )
    assert r.status_code == 202
    job = get(api, f"/v6/jobs/{job_id}/")
    assert (job["status"], job["num_exes"], job["execution"]) == ("QUEUED", 2, None)  # until the next try starts
    second = start(api, auth, job_id, node="node-b")
    job = get(api, f"/v6/jobs/{job_id}/")
    assert (job["execution"]["id"], job["execution"]["exe_num"], job["execution"]["status"]) == (
        second["id"],
        2,
        "RUNNING",
    )
    exes = get(api, f"/v6/jobs/{job_id}/executions/")["results"]
    assert [e["exe_num"] for e in exes] == [2, 1]  # the UI takes element [0] as the latest
    assert [e["status"] for e in exes] == ["RUNNING", "FAILED"]
    assert all(isinstance(e["status"], str) and "job_type" in e and "node" in e for e in exes)


def test_a_job_without_a_trigger_event_still_shows_one(api, ui, stores):
    job_id = ui["completed_v1"]
    with stores.db.sessions.begin() as s:  # as a job written by other means than this API can be
        s.execute(update(Job).where(Job.id == job_id).values(event_id=None))
    job = get(api, f"/v6/jobs/{job_id}/")
    assert job["event"] == {"id": None, "type": "UNKNOWN", "occurred": job["created"]}
    listed_job = next(j for j in get(api, "/v6/jobs/")["results"] if j["id"] == job_id)
    assert listed_job["event"] is None  # the list shows what there is (the UI guards it there)


def test_row_buttons_and_details_cancel(api, auth, ui):
    r = api.simulate_post(
        "/v6/jobs/cancel/", json={"job_ids": [ui["queued_v1"]], "url": UI_URL}, headers={**ANGULAR, **auth}
    )
    assert (r.status_code, r.json) == (202, {"matched": 1})
    body = {"job_type_names": ["my-algo"], "job_ids": [ui["running_v2"]], "url": UI_URL}
    r = api.simulate_post("/v6/jobs/cancel/", json=body, headers={**ANGULAR, **auth})
    assert (r.status_code, r.json) == (202, {"matched": 1})
    assert get(api, f"/v6/jobs/{ui['running_v2']}/")["status"] == "CANCELED"
    assert get(api, f"/v6/jobs/{ui['queued_v1']}/")["status"] == "CANCELED"


def test_cancel_all_and_requeue_all_bodies(api, auth, ui):
    started, ended = "2019-12-31T00:00:00.000Z", "2020-01-01T23:59:59.999Z"
    # "Requeue all" with DATA and SYSTEM chosen: flat lists, the last of FAILED/CANCELED in the status filter.
    body = {
        "started": started,
        "ended": ended,
        "error_categories": ["DATA"],
        "status": "FAILED",
        "job_type_names": ["my-algo", "other"],
        "url": UI_URL,
    }
    r = api.simulate_post("/v6/jobs/requeue/", json=body, headers={**ANGULAR, **auth})
    assert (r.status_code, r.json) == (202, {"matched": 1})
    assert get(api, f"/v6/jobs/{ui['failed_v2']}/")["status"] == "QUEUED"
    # "Cancel all" wraps the multiselects' lists in another list.
    body = {
        "started": started,
        "ended": ended,
        "error_categories": [["SYSTEM", "ALGORITHM"]],
        "job_type_names": [["other"]],
        "url": UI_URL,
    }
    r = api.simulate_post("/v6/jobs/cancel/", json=body, headers={**ANGULAR, **auth})
    assert (r.status_code, r.json) == (202, {"matched": 1})
    assert get(api, f"/v6/jobs/{ui['system_other']}/")["status"] == "CANCELED"
    # Nothing chosen in a multiselect ([[]]): no restriction, as the confirm dialog counted it.
    body = {"started": started, "ended": ended, "error_categories": [[]], "job_type_names": [[]], "url": UI_URL}
    count = get(api, "/v6/jobs/", f"{WINDOW}&status=RUNNING&status=QUEUED")["count"]
    r = api.simulate_post("/v6/jobs/cancel/", json=body, headers={**ANGULAR, **auth})
    assert (r.status_code, r.json) == (202, {"matched": count}) and count == 3
    bad = {"error_categories": [["SYSTEM", "NOPE"]], "url": UI_URL}
    r = api.simulate_post("/v6/jobs/cancel/", json=bad, headers=auth)
    assert r.status_code == 400 and r.json["detail"].startswith('Parameter "error_categories" values must be one of')
    r = api.simulate_post("/v6/jobs/cancel/", json={"error_categories": [[["SYSTEM"]]]}, headers=auth)
    assert (r.status_code, r.json) == (
        400,
        {"detail": 'Parameter must be a valid string: "error_categories"', "request_id": r.headers["X-Request-ID"]},
    )


@pytest.mark.parametrize(
    "code, ok",
    [
        ("f1b2", True),
        ("F0C3", True),
        ("e000", True),
        ("21", True),
        ("10ffff", True),
        ("1f600", True),
        ("", False),
        ("xyz", False),
        ("f1b2;", False),
        ("&#xf1b2", False),
        ("110000", False),
        ("0x f1", False),
    ],
)
def test_icon_code_accepted_when_a_job_type_is_created(api, auth, code, ok):
    r = api.simulate_post(
        "/v6/job-types/",
        json={"docker_image": "img:1", "manifest": manifest(files=()), "icon_code": code},
        headers=auth,
    )
    if ok:
        assert r.status_code == 201 and r.json["icon_code"] == code
        assert get(api, "/v6/job-types/test-job/1.0.0/")["icon_code"] == code
    else:
        assert (r.status_code, r.json) == (
            400,
            {
                "detail": 'Parameter "icon_code" must be a hexadecimal Unicode code point, such as "f1b2"',
                "request_id": r.headers["X-Request-ID"],
            },
        )


def test_default_icon_wherever_a_job_type_shows(api, auth, ui):
    other = ui["other"]
    assert other["icon_code"] == "f1b2"  # the POST's own answer
    assert get(api, "/v6/job-types/other/1.0.0/")["icon_code"] == "f1b2"
    job = get(api, f"/v6/jobs/{ui['system_other']}/")
    assert job["job_type"]["icon_code"] == job["job_type_rev"]["job_type"]["icon_code"] == "f1b2"
    assert job["execution"] is not None and job["execution"]["job_type"]["icon_code"] == "f1b2"
    listed_job = next(j for j in get(api, "/v6/jobs/")["results"] if j["id"] == ui["system_other"])
    assert listed_job["job_type"]["icon_code"] == "f1b2"
    assert {e["job_type"]["icon_code"] for e in get(api, f"/v6/jobs/{ui['system_other']}/executions/")["results"]} == {
        "f1b2"
    }


def test_unknown_parameters_and_keys_are_ignored(api, auth, ui):
    assert get(api, "/v6/jobs/", "sortField=error.category&sortOrder=1&include_superseded=true&rows=20&first=0")
    assert get(api, "/v6/job-types/", "page_size=1000&is_active=true&sortField=title")["count"] == 3
    body = {"job_type_id": ui["other"]["id"], "input": {}, "url": "/local/v6/jobs/", "extra": {"x": 1}}
    r = api.simulate_post("/v6/jobs/", json=body, headers={**ANGULAR, **auth})
    assert r.status_code == 201 and r.json["event"]["type"] == "USER"
