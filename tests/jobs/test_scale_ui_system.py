"""System -> Nodes and System -> Workspaces of Scale's UI: /v6/nodes/ and /v6/workspaces/ replayed as the UI sends
them (page=1&page_size=1000, its validate-then-save bodies with their nulls), staff-only writes, and the README's
files example, which needs a workspace made through the API."""

from __future__ import annotations

import pytest

from jobs.models import Workspace
from tests.jobs.helpers import add_job_type, finish, manifest, queue, start

ANGULAR = {"Accept": "application/json, text/plain, */*"}
HOST = {"broker": {"type": "host", "host_path": "/data/products"}}


def get(api, path: str, query: str = ""):
    r = api.simulate_get(path, query_string=query, headers=ANGULAR)
    assert r.status_code == 200, (path, query, r.status_code, r.text)
    return r.json


def test_nodes_are_the_hosts_executions_ran_on(api, auth, clock):
    assert get(api, "/v6/nodes/", "page=1&page_size=1000")["count"] == 0
    job_type = add_job_type(api, auth, manifest(files=()))
    for node in ("node-b", "node-a", "node-b"):
        start(api, auth, queue(api, auth, job_type["id"], {})["id"], node=node)
        clock.advance(minutes=1)
    page = get(api, "/v6/nodes/", "page=1&page_size=1000")
    assert [n["hostname"] for n in page["results"]] == ["node-a", "node-b"]
    node_a = page["results"][0]
    assert node_a == {
        "id": node_a["id"],
        "hostname": "node-a",
        "pause_reason": None,
        "is_paused": False,
        "is_active": True,
        "deprecated": None,
        "created": "2020-01-01T00:01:00Z",
        "last_modified": "2020-01-01T00:01:00Z",
    }
    assert get(api, f"/v6/nodes/{node_a['id']}/") == node_a
    # The UI asks for one node without the trailing slash: redirected, as every route.
    r = api.simulate_get(f"/v6/nodes/{node_a['id']}", headers=ANGULAR)
    assert r.status_code == 301 and r.headers["location"].endswith(f"/v6/nodes/{node_a['id']}/")
    assert api.simulate_get("/v6/nodes/999/").status_code == 404
    assert [n["hostname"] for n in get(api, "/v6/nodes/", "order=-hostname")["results"]] == ["node-b", "node-a"]
    assert [n["hostname"] for n in get(api, "/v6/nodes/", "started=2020-01-01T00:00:30.000Z")["results"]] == ["node-a"]
    r = api.simulate_get("/v6/nodes/", query_string="order=colour")
    assert (r.status_code, r.json["detail"]) == (400, 'Invalid order field: "colour"')


def test_workspace_create_validate_edit_as_the_ui_does(api, auth, clock):
    # The editor validates what it shows (nulls for empty fields), then saves without the name.
    shown = {
        "name": "untitled-workspace",
        "title": "Products",
        "description": None,
        "base_url": None,
        "is_active": True,
        "configuration": HOST,
    }
    r = api.simulate_post("/v6/workspaces/validation/", json=shown, headers={**ANGULAR, **auth})
    assert r.status_code == 200 and r.json == {"is_valid": True, "errors": [], "warnings": []}
    saved = {k: v for k, v in shown.items() if k != "name"}
    r = api.simulate_post("/v6/workspaces/", json=saved, headers={**ANGULAR, **auth})
    assert r.status_code == 201, r.text
    created = r.json
    assert r.headers["location"].endswith(f"/v6/workspaces/{created['id']}/")
    assert (created["name"], created["title"], created["is_active"], created["configuration"]) == (
        "products",
        "Products",
        True,
        HOST,
    )
    assert get(api, f"/v6/workspaces/{created['id']}/") == created
    listed = get(api, "/v6/workspaces/", "page=1&page_size=1000")
    assert listed["count"] == 1 and listed["results"][0] == {k: v for k, v in created.items() if k != "configuration"}
    # Edit: a description, a base URL, then deprecate.
    clock.advance(minutes=2)
    edit = {"title": "Products", "description": "Tiles", "base_url": "https://files.example.org/p", "is_active": False}
    r = api.simulate_patch(f"/v6/workspaces/{created['id']}/", json=edit, headers=auth)
    assert r.status_code == 204
    edited = get(api, f"/v6/workspaces/{created['id']}/")
    assert (edited["description"], edited["base_url"], edited["is_active"]) == (
        "Tiles",
        "https://files.example.org/p",
        False,
    )
    assert edited["deprecated"] == edited["last_modified"] == "2020-01-01T00:02:00Z"
    assert get(api, "/v6/workspaces/", "name=products&name=other")["count"] == 1
    assert get(api, "/v6/workspaces/", "started=2020-01-01T00:03:00.000Z")["count"] == 0


def test_s3_is_a_description_and_its_secret_is_never_shown(api, auth, stores):
    s3 = {
        "broker": {
            "type": "s3",
            "bucket_name": "my-bucket",
            "region_name": "us-east-1",
            "credentials": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "very-secret"},
        }
    }
    r = api.simulate_post("/v6/workspaces/validation/", json={"title": "Archive", "configuration": s3}, headers=auth)
    assert r.json["is_valid"] is True and [w["name"] for w in r.json["warnings"]] == ["NOT_WRITTEN_HERE"]
    r = api.simulate_post("/v6/workspaces/", json={"title": "Archive", "configuration": s3}, headers=auth)
    assert r.status_code == 201
    assert r.json["configuration"]["broker"]["credentials"] == {"access_key_id": "AKIAEXAMPLE"}
    shown = api.simulate_get(f"/v6/workspaces/{r.json['id']}/")
    assert "very-secret" not in shown.text
    # The editor sends back what it was shown (no secret): valid, and the stored secret is kept.
    edit = {"name": "archive", "title": "Archive 2", "configuration": shown.json["configuration"]}
    r2 = api.simulate_post("/v6/workspaces/validation/", json=edit, headers=auth)
    assert r2.json["is_valid"] is True, r2.json
    r2 = api.simulate_patch(
        f"/v6/workspaces/{r.json['id']}/", json={k: v for k, v in edit.items() if k != "name"}, headers=auth
    )
    assert r2.status_code == 204
    with stores.db.sessions() as s:
        kept = s.get(Workspace, r.json["id"]).json_config["broker"]["credentials"]
    assert kept == {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "very-secret"}
    # Another key id needs its own secret.
    other = {"broker": {**s3["broker"], "credentials": {"access_key_id": "AKIAOTHER"}}}
    r2 = api.simulate_patch(f"/v6/workspaces/{r.json['id']}/", json={"configuration": other}, headers=auth)
    assert r2.status_code == 400 and "secret_access_key" in r2.json["detail"]


@pytest.mark.parametrize(
    "body, detail",
    [
        ({"configuration": HOST}, 'Missing required parameter: "title"'),
        ({"title": "P"}, 'Missing required parameter: "configuration"'),
        ({"title": "P", "configuration": {"broker": {"type": "host"}}}, "Workspace configuration invalid: broker:"),
        (
            {"title": "P", "configuration": {"broker": {"type": "host", "host_path": "relative"}}},
            "Workspace configuration invalid: broker.host_path:",
        ),
        ({"title": "P", "configuration": {"broker": {"type": "ftp"}}}, "Workspace configuration invalid: broker.type:"),
        ({"title": "P", "name": "bad name!", "configuration": HOST}, 'Parameter "name" must be'),
        ({"title": "P", "base_url": "ftp://x", "configuration": HOST}, 'Parameter must be an http(s) URL: "base_url"'),
        ({"title": "P", "configuration": []}, 'Parameter must be a valid JSON object: "configuration"'),
    ],
)
def test_bad_workspaces(api, auth, body, detail):
    r = api.simulate_post("/v6/workspaces/", json=body, headers=auth)
    assert r.status_code == 400 and r.json["detail"].startswith(detail), r.json
    if "configuration" in body and isinstance(body["configuration"], dict):
        v = api.simulate_post("/v6/workspaces/validation/", json=body, headers=auth).json
        assert v["is_valid"] is False and v["errors"][0]["description"].startswith(detail)


def test_names_are_unique_and_kept(api, auth, stores):
    r = api.simulate_post("/v6/workspaces/", json={"title": "Products", "configuration": HOST}, headers=auth)
    assert r.status_code == 201
    again = api.simulate_post("/v6/workspaces/", json={"title": "Products!", "configuration": HOST}, headers=auth)
    assert (again.status_code, again.json["detail"]) == (400, "A workspace named 'products' already exists")
    r2 = api.simulate_patch(f"/v6/workspaces/{r.json['id']}/", json={"name": "renamed"}, headers=auth)
    assert (r2.status_code, r2.json["detail"]) == (400, 'Field may not be changed: "name"')
    assert api.simulate_patch("/v6/workspaces/999/", json={"title": "x"}, headers=auth).status_code == 404
    stores.users.add_user("bob", None)
    token, _ = stores.users.create_token("bob", "reads")
    reader = {"Authorization": f"Bearer {token}"}
    body = {"title": "Other", "configuration": HOST}
    assert api.simulate_post("/v6/workspaces/", json=body, headers=reader).status_code == 403
    assert api.simulate_patch(f"/v6/workspaces/{r.json['id']}/", json=body, headers=reader).status_code == 403
    assert api.simulate_post("/v6/workspaces/", json=body).status_code == 401
    assert get(api, "/v6/workspaces/")["count"] == 1


def test_readme_files_example(api, auth):
    """README "Files": the workspace is made through the API, then an executor reports a file into it."""
    r = api.simulate_post(
        "/v6/workspaces/",
        json={"name": "products", "title": "Products", "configuration": HOST},
        headers=auth,
    )
    assert r.status_code == 201
    job_type = add_job_type(api, auth, manifest("hello", files=()))
    job = queue(api, auth, job_type["id"], {})
    exe = start(api, auth, job["id"], node="node-1")
    files = [{"file_name": "out.png", "file_path": "job1/out.png", "file_size": 1024, "workspace": "products"}]
    finish(api, auth, exe["id"], "COMPLETED", files=files)
    listed = get(api, "/v6/files/", f"job_id={job['id']}")
    assert [(f["file_name"], f["workspace"]["name"], f["file_size"]) for f in listed["results"]] == [
        ("out.png", "products", 1024)
    ]
    # A workspace that does not exist, or a deprecated one, takes no files.
    exe2 = start(api, auth, queue(api, auth, job_type["id"], {})["id"])
    bad = [{**files[0], "workspace": "nowhere"}]
    r = api.simulate_patch(
        f"/v6/job-executions/{exe2['id']}/", json={"status": "COMPLETED", "files": bad}, headers=auth
    )
    assert r.status_code == 400 and "workspace 'nowhere' does not exist" in r.json["detail"]
    workspace_id = get(api, "/v6/workspaces/", "name=products")["results"][0]["id"]
    assert (
        api.simulate_patch(f"/v6/workspaces/{workspace_id}/", json={"is_active": False}, headers=auth).status_code
        == 204
    )
    r = api.simulate_patch(
        f"/v6/job-executions/{exe2['id']}/", json={"status": "COMPLETED", "files": files}, headers=auth
    )
    assert r.status_code == 400 and "workspace 'products' does not exist" in r.json["detail"]
