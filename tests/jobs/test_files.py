"""Scale's Files service: executors report the files an execution produced when they finish it (PATCH), and
GET /v6/files/ lists them as Scale File objects, as the job page's Outputs panel asks for them."""

from __future__ import annotations

import pytest

from tests.jobs.conftest import T0
from tests.jobs.helpers import add_job_type, finish, ids, manifest, queue, start

OUTPUTS = {
    "files": [{"name": "report", "pattern": "*.pdf"}, {"name": "tiles", "pattern": "tiles/*.png", "multiple": True}]
}
UI_OUTPUTS = "/v6/files/?job_id={}&sortField=last_modified&sortOrder=desc"  # exactly what the UI sends
UI_READS = ("url", "file_name", "file_size", "created", "last_modified")


@pytest.fixture
def workspaces(refs):
    return {
        "products": refs.add_workspace("products", base_url="https://files.example.org/products/"),
        "scratch": refs.add_workspace("scratch"),
    }


def with_outputs(m: dict) -> dict:
    m["job"]["interface"]["outputs"] = OUTPUTS
    return m


def a_job(api, auth, configuration=None, input_files=None, name: str = "test-job") -> dict:
    m = with_outputs(manifest(name, files=({"name": "input_a", "required": False},)))
    job_type = add_job_type(api, auth, m)
    data = {"files": {"input_a": input_files}} if input_files else {}
    return queue(api, auth, job_type["id"], data, configuration)


def report_files(n: int = 1, **extra) -> list[dict]:
    return [
        {
            "file_name": f"tile{i}.png",
            "file_path": f"out/tiles/tile{i}.png",
            "file_size": 1000 + i,
            "media_type": "image/png",
            "workspace": "products",
            "job_output": "tiles",
            **extra,
        }
        for i in range(n)
    ]


def test_files_reported_when_an_execution_finishes_are_the_jobs_outputs(api, auth, workspaces, clock):
    job = a_job(api, auth)
    exe = start(api, auth, job["id"])
    clock.advance(seconds=5)
    files = report_files(2) + [
        {"file_name": "summary.pdf", "file_size": 0, "workspace": "products", "job_output": "report"},
        {"file_name": "notes.txt", "file_path": "misc/notes.txt", "file_size": 12, "workspace": "scratch"},
    ]
    done = finish(api, auth, exe["id"], "COMPLETED", files=files, output={"json": {"count": 3}})
    r = api.simulate_get(UI_OUTPUTS.format(job["id"]), headers={"Accept": "application/json, text/plain, */*"})
    assert r.status_code == 200 and r.json["count"] == 4 and r.json["next"] is None
    by_name = {f["file_name"]: f for f in r.json["results"]}
    assert [f["id"] for f in r.json["results"]] == sorted(f["id"] for f in r.json["results"])  # sortField ignored
    tile = by_name["tile0.png"]
    assert {k: tile[k] for k in UI_READS} == {
        "url": "https://files.example.org/products/out/tiles/tile0.png",
        "file_name": "tile0.png",
        "file_size": 1000,
        "created": "2020-01-01T00:00:05Z",
        "last_modified": "2020-01-01T00:00:05Z",
    }
    assert tile["job"] == {"id": job["id"]} and tile["job_exe"] == {"id": exe["id"]}
    assert tile["job_output"] == "tiles" and tile["file_type"] == "PRODUCT" and tile["media_type"] == "image/png"
    assert tile["job_type"]["id"] == job["job_type"]["id"] and tile["workspace"]["name"] == "products"
    assert tile["countries"] == [] and tile["geometry"] is None and tile["is_superseded"] is False
    # Defaults: the path is the name, the media type is guessed from it; a workspace without a URL gives none.
    assert by_name["summary.pdf"]["file_path"] == "summary.pdf"
    assert by_name["summary.pdf"]["media_type"] == "application/pdf"
    assert by_name["notes.txt"]["url"] is None and by_name["notes.txt"]["job_output"] is None
    # The job's and the execution's output Data name the files by output (files without an output are listed
    # by the Files service only).
    expected = {
        "files": {
            "tiles": [by_name["tile0.png"]["id"], by_name["tile1.png"]["id"]],
            "report": [by_name["summary.pdf"]["id"]],
        },
        "json": {"count": 3},
    }
    assert done["output"] == expected
    assert api.simulate_get(f"/v6/jobs/{job['id']}/").json["output"] == expected


def test_the_jobs_output_workspace_is_used_when_a_file_names_none(api, auth, workspaces):
    configuration = {"output_workspaces": {"default": "scratch", "outputs": {"report": "products"}}}
    job = a_job(api, auth, configuration)
    exe = start(api, auth, job["id"])
    finish(
        api,
        auth,
        exe["id"],
        "COMPLETED",
        files=[
            {"file_name": "a.pdf", "file_size": 1, "job_output": "report"},
            {"file_name": "b.png", "file_size": 1, "job_output": "tiles"},
        ],
    )
    files = api.simulate_get("/v6/files/", params={"job_id": job["id"], "order": "file_name"}).json["results"]
    assert [(f["file_name"], f["workspace"]["name"]) for f in files] == [("a.pdf", "products"), ("b.png", "scratch")]


@pytest.mark.parametrize(
    "bad, detail",
    [
        ({"file_size": -1}, 'Parameter must be at least 0: "file_size"'),
        ({"file_size": 1.5}, 'Parameter must be a valid integer: "file_size"'),
        ({"file_name": ""}, 'Parameter must be 1 to 250 characters: "file_name"'),
        ({"file_name": "../x"}, "file_name must be 1 to 250 characters without / or \\ (not . or ..)"),
        ({"file_name": ".."}, "file_name must be 1 to 250 characters without / or \\ (not . or ..)"),
        ({"file_path": "/etc/passwd"}, "file_path must be a relative path"),
        ({"file_path": "a/../../b"}, "file_path must not have empty, . or .. parts"),
        ({"file_path": "a//b"}, "file_path must not have empty, . or .. parts"),
        ({"file_name": "a\tb"}, "must not contain control characters"),
        ({"media_type": "not a type"}, "media_type must look like type/subtype"),
        ({"job_output": "nope"}, "'nope' is not a file output of this job type"),
        ({"workspace": "missing"}, "workspace 'missing' does not exist"),
        ({"workspace": None}, "no workspace given and the job configures no output workspace"),
        ({"data_started": "2020-01-02T00:00:00Z", "data_ended": "2020-01-01T00:00:00Z"}, "data_started must not be"),
    ],
)
def test_bad_files_are_400_and_nothing_is_recorded(api, auth, workspaces, bad, detail):
    job = a_job(api, auth)
    exe = start(api, auth, job["id"])
    body = {"status": "COMPLETED", "files": report_files(1) + [{**report_files(1)[0], **bad}]}
    body["files"][1] = {k: v for k, v in body["files"][1].items() if v is not None}
    r = api.simulate_patch(f"/v6/job-executions/{exe['id']}/", json=body, headers=auth)
    assert r.status_code == 400 and detail in r.json["detail"], r.json
    assert api.simulate_get("/v6/files/", params={"job_id": job["id"]}).json["count"] == 0
    assert api.simulate_get(f"/v6/job-executions/{exe['id']}/").json["status"] == "RUNNING"


def test_files_of_an_execution_that_already_ended_are_not_recorded(api, auth, workspaces):
    job = a_job(api, auth)
    exe = start(api, auth, job["id"])
    finish(api, auth, exe["id"], "FAILED", files=report_files(1))  # kept, but only in the Files service
    r = api.simulate_patch(
        f"/v6/job-executions/{exe['id']}/", json={"status": "COMPLETED", "files": report_files(3)}, headers=auth
    )
    assert r.status_code == 409
    assert api.simulate_get("/v6/files/", params={"job_id": job["id"]}).json["count"] == 1
    assert api.simulate_get(f"/v6/jobs/{job['id']}/").json["output"] == {"files": {}, "json": {}}


def test_filters_windows_order_and_paging(api, auth, workspaces, refs, clock):
    source = refs.add_file(
        workspaces["scratch"],
        "in.ntf",
        10,
        source_started=T0,
        source_ended=T0,
        source_sensor_class="EO",
        source_collection="coll",
    )
    first = a_job(api, auth, input_files=[source])
    batch = refs.add_batch("a batch")
    recipe = refs.add_recipe("a-recipe", batch)
    exe1 = start(api, auth, first["id"])
    clock.advance(hours=1)
    finish(api, auth, exe1["id"], "COMPLETED", files=report_files(3, data_started="2020-01-01T00:00:00Z"))
    other = a_job(api, auth, name="other-job")
    exe2 = start(api, auth, other["id"])
    clock.advance(hours=1)
    finish(
        api,
        auth,
        exe2["id"],
        "COMPLETED",
        files=[{"file_name": "r.pdf", "file_size": 5, "workspace": "products", "job_output": "report"}],
    )

    def listed(**params) -> list[str]:
        r = api.simulate_get("/v6/files/", params=params)
        assert r.status_code == 200, r.json
        return [f["file_name"] for f in r.json["results"]]

    everything = listed()
    assert everything == ["in.ntf", "tile0.png", "tile1.png", "tile2.png", "r.pdf"]  # last_modified, then id
    assert listed(job_id=str(first["id"])) == ["tile0.png", "tile1.png", "tile2.png"]
    assert listed(job_exe_id=str(exe2["id"])) == ["r.pdf"]
    assert listed(job_output="report") == ["r.pdf"]
    assert listed(file_name=["tile1.png", "r.pdf"]) == ["tile1.png", "r.pdf"]
    assert listed(job_type_id=str(other["job_type"]["id"])) == ["r.pdf"]
    assert listed(job_type_name=first["job_type"]["name"]) == ["tile0.png", "tile1.png", "tile2.png"]
    assert listed(media_type="application/pdf") == ["r.pdf"]
    assert listed(file_type="SOURCE") == ["in.ntf"]
    # Products inherit their job's source fields (from its inputs), as Scale's did.
    assert listed(source_sensor_class="EO") == ["in.ntf", "tile0.png", "tile1.png", "tile2.png"]
    assert listed(source_collection="coll", file_type="PRODUCT") == ["tile0.png", "tile1.png", "tile2.png"]
    assert listed(source_started="2019-12-31T00:00:00Z", source_ended="2020-01-01T00:00:00Z") == everything[:4]
    assert listed(data_started="2020-01-01T00:00:00Z") == ["tile0.png", "tile1.png", "tile2.png"]
    assert listed(modified_started="2020-01-01T01:30:00Z") == ["r.pdf"]
    assert listed(modified_ended="2020-01-01T01:30:00Z") == everything[:4]
    assert listed(created_started="PT30M") == ["r.pdf"]  # a duration: now (02:00) minus 30 minutes
    assert listed(countries="USA") == []
    # Unknown ids are an empty list, as in Scale.
    assert listed(job_id="999999") == [] and listed(recipe_id=str(recipe)) == [] and listed(batch_id="7") == []
    assert listed(order="-file_size") == ["tile2.png", "tile1.png", "tile0.png", "in.ntf", "r.pdf"]
    assert listed(order=["job_type__name", "-file_name"])[-1] == "in.ntf"  # no job type: last, as PostgreSQL does
    # Paging like every list.
    r = api.simulate_get("/v6/files/", params={"page_size": "2", "page": "2", "order": "id"})
    assert [f["file_name"] for f in r.json["results"]] == everything[2:4] and r.json["count"] == 5
    assert r.json["next"].endswith("/v6/files/?order=id&page=3&page_size=2")
    assert r.json["previous"].endswith("/v6/files/?order=id&page_size=2")
    assert api.simulate_get("/v6/files/", params={"page": "4", "page_size": "2"}).status_code == 404


@pytest.mark.parametrize(
    "params, detail",
    [
        ({"order": "nope"}, 'Invalid order field: "nope"'),
        ({"job_id": "x"}, 'Parameter must be a valid integer: "job_id"'),
        ({"data_started": "yesterday"}, "Invalid ISO timestamp format for parameter: data_started"),
        (
            {"modified_started": "2020-01-02T00:00:00Z", "modified_ended": "2020-01-01T00:00:00Z"},
            "Start time must come before end time",
        ),
        ({"order": "nope", "page": "9"}, 'Invalid order field: "nope"'),  # parameters before pagination
    ],
)
def test_bad_file_filters_are_400(api, params, detail):
    r = api.simulate_get("/v6/files/", params=params)
    assert r.status_code == 400 and r.json == {"detail": detail, "request_id": r.headers["X-Request-ID"]}


def test_files_of_a_recipe_job_name_its_recipe_and_batch(api, auth, workspaces, refs, stores):
    batch = refs.add_batch("batch one", "desc")
    recipe = refs.add_recipe("my-recipe", batch)
    job_type = add_job_type(api, auth, with_outputs(manifest(files=())))
    job_id = stores.jobs.create_job(job_type["id"], {}, recipe_id=recipe, batch_id=batch)
    exe = start(api, auth, job_id)
    finish(api, auth, exe["id"], "COMPLETED", files=report_files(1))
    f = api.simulate_get("/v6/files/", params={"recipe_id": str(recipe)}).json["results"][0]
    assert f["recipe"] == {"id": recipe} and f["recipe_type"]["name"] == "my-recipe"
    assert f["batch"]["id"] == batch and f["batch"]["title"] == "batch one"
    assert ids(api.simulate_get("/v6/files/", params={"batch_id": str(batch)})) == [f["id"]]
    rt = f["recipe_type"]["id"]
    assert ids(api.simulate_get("/v6/files/", params={"recipe_type_id": str(rt)})) == [f["id"]]


def test_anonymous_and_read_only_clients_page_only_through_the_first_files(make_client, auth, workspaces, clock):
    """A deep page of /v6/files/ makes the database read and drop every file before it: bounded for clients who
    aren't staff (READ_ONLY_LIST_ROWS, here 2 of 3 files), as the job list is."""
    api = make_client(read_only_list_rows=2)
    exe = start(api, auth, a_job(api, auth)["id"])
    clock.advance(hours=1)
    finish(api, auth, exe["id"], "COMPLETED", files=report_files(3))
    deep = api.simulate_get("/v6/files/", params={"page": "3", "page_size": "1"})
    assert deep.status_code == 400
    assert deep.json["detail"].startswith(
        "page: anonymous and read-only clients may page through the first 2 files of a list, and this page starts "
        "at file 3 of 3; narrow the list with filters"
    )
    assert api.simulate_get("/v6/files/", params={"page": "2", "page_size": "1"}).status_code == 200
    assert api.simulate_get("/v6/files/", params={"page": "4", "page_size": "1"}).status_code == 404  # past the end
    assert api.simulate_get("/v6/files/", params={"page": "3", "page_size": "1"}, headers=auth).status_code == 200


def test_read_only_clients_order_long_file_lists_only_as_an_index_serves(make_client, auth, workspaces, clock):
    """An order no index serves sorts every matching file: on a list longer than READ_ONLY_LIST_ROWS (here 2 of
    3 files), clients who aren't staff get a 400 naming `order` and the orders they may use; staff don't."""
    api = make_client(read_only_list_rows=2)
    exe = start(api, auth, a_job(api, auth)["id"])
    clock.advance(hours=1)
    finish(api, auth, exe["id"], "COMPLETED", files=report_files(3))
    unindexed = api.simulate_get("/v6/files/", params={"order": "file_size"})
    assert unindexed.status_code == 400
    assert unindexed.json["detail"] == (
        "order: no index serves the order file_size, and anonymous and read-only clients may order by such fields "
        "only lists of at most 2 files (this one has 3); narrow the list with filters (job_id, job_type_name, the "
        "created/data/source windows, ...), or order by one of id, last_modified (each may be negated)"
    )
    for order in ([], ["-last_modified"], ["id"], ["-id"], ["last_modified", "id"]):
        r = api.simulate_get("/v6/files/", params={"order": order, "page_size": "2"})
        assert r.status_code == 200 and r.json["count"] == 3, (order, r.text)
    assert api.simulate_get("/v6/files/", params={"order": ["last_modified", "-id"]}).status_code == 400
    assert api.simulate_get("/v6/files/", params={"order": "file_size"}, headers=auth).json["count"] == 3
