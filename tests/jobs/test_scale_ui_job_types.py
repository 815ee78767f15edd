"""Job types edited and browsed from Scale's UI: the validation it runs before every change, the PATCH its pause,
resume and deprecate buttons send (bodies as its cleanJobTypeForUpdate builds them), the create wizard's body,
/v6/job-type-names/ and the version list. Writes need a staff credential; a read-only person gets 403."""

from __future__ import annotations

import pytest

from tests.jobs.helpers import add_job_type, manifest, queue

ANGULAR = {"Accept": "application/json, text/plain, */*"}


def settings_manifest(name: str = "my-algo", version: str = "1.0.0") -> dict:
    m = manifest(name, version, files=(), title="My Algorithm")
    m["job"]["interface"]["settings"] = [{"name": "MODE"}, {"name": "PASSWORD", "secret": True}]
    m["job"]["interface"]["outputs"] = {"files": [{"name": "tiles", "pattern": "*.png"}]}
    return m


@pytest.fixture
def algo(api, auth, refs):
    refs.add_workspace("products")
    configuration = {"settings": {"MODE": "fast"}, "output_workspaces": {"default": "products"}}
    return add_job_type(api, auth, settings_manifest(), configuration=configuration, icon_code="f0c3")


def details(api, name="my-algo", version="1.0.0") -> dict:
    r = api.simulate_get(f"/v6/job-types/{name}/{version}/", headers=ANGULAR)
    assert r.status_code == 200, r.text
    return r.json


def validate(api, auth, body: dict) -> dict:
    r = api.simulate_post("/v6/job-types/validation/", json=body, headers={**ANGULAR, **auth})
    assert r.status_code == 200, r.text
    return r.json


def update_body(job_type: dict) -> dict:
    """The UI's cleanJobTypeForUpdate: each field `|| null`, then the nulls removed (so false values vanish)."""
    fields = ("icon_code", "is_published", "is_active", "is_paused", "max_scheduled", "configuration")
    return {k: job_type[k] for k in fields if job_type.get(k)}


def test_pause_as_the_ui_does_it(api, auth, algo, stores):
    job_type = details(api)
    # The pause button validates the job type as shown (its cleanJobType: configuration and manifest) ...
    result = validate(api, auth, {"configuration": job_type["configuration"], "manifest": job_type["manifest"]})
    assert (result["is_valid"], result["errors"]) == (True, [])
    # ... (the secret setting has no stored value by design: no warning for it)
    assert result["warnings"] == []
    # ... then flips is_paused and PATCHes what cleanJobTypeForUpdate keeps.
    body = update_body({**job_type, "is_paused": True})
    assert body.keys() == {"icon_code", "is_active", "is_paused", "configuration"}
    r = api.simulate_patch("/v6/job-types/my-algo/1.0.0/", json=body, headers={**ANGULAR, **auth})
    assert (r.status_code, r.content) == (204, b"")
    paused = details(api)
    assert (paused["is_paused"], paused["paused"], paused["icon_code"]) == (True, "2020-01-01T00:00:00Z", "f0c3")
    assert paused["configuration"] == job_type["configuration"] and paused["revision_num"] == 1
    # Workers honour it: a queued job of a paused type is not claimed.
    job = queue(api, auth, algo["id"], {})
    assert stores.executions.claim_next_queued("node-1") is None
    # The UI's own "Resume" cannot: its body loses the false is_paused (Scale's did too); nothing changes.
    r = api.simulate_patch(
        "/v6/job-types/my-algo/1.0.0/", json=update_body({**paused, "is_paused": False}), headers=auth
    )
    assert r.status_code == 204 and details(api)["is_paused"] is True
    # A client that sends it resumes.
    r = api.simulate_patch("/v6/job-types/my-algo/1.0.0/", json={"is_paused": False}, headers=auth)
    assert r.status_code == 204
    assert (details(api)["is_paused"], details(api)["paused"]) == (False, None)
    assert stores.executions.claim_next_queued("node-1").job_id == job["id"]


def test_deprecate_and_activate(api, auth, algo, clock):
    clock.advance(minutes=5)
    r = api.simulate_patch("/v6/job-types/my-algo/1.0.0/", json={"is_active": False}, headers=auth)
    assert r.status_code == 204
    deprecated = details(api)
    assert (deprecated["is_active"], deprecated["deprecated"]) == (False, "2020-01-01T00:05:00Z")
    assert deprecated["last_modified"] == "2020-01-01T00:05:00Z"
    listed = api.simulate_get("/v6/job-types/", query_string="page_size=1000&is_active=true").json
    assert listed["count"] == 0
    r = api.simulate_post("/v6/jobs/", json={"job_type_id": algo["id"], "input": {}}, headers=auth)
    assert r.status_code == 400  # an inactive type takes no new jobs
    r = api.simulate_patch("/v6/job-types/my-algo/1.0.0/", json={"is_active": True}, headers=auth)
    assert r.status_code == 204 and (details(api)["is_active"], details(api)["deprecated"]) == (True, None)


def test_other_editable_fields(api, auth, algo, refs):
    refs.add_workspace("archive")
    body = {
        "icon_code": "f1c5",
        "is_published": True,
        "max_scheduled": 4,
        "max_tries": 5,
        "configuration": {
            "settings": {"MODE": "slow", "PASSWORD": "s3cret"},
            "output_workspaces": {"default": "archive"},
        },
        "auto_update": True,
    }
    r = api.simulate_patch("/v6/job-types/my-algo/1.0.0/", json=body, headers=auth)
    assert r.status_code == 204
    job_type = details(api)
    assert (job_type["icon_code"], job_type["is_published"], job_type["max_scheduled"], job_type["max_tries"]) == (
        "f1c5",
        True,
        4,
        5,
    )
    assert job_type["configuration"]["settings"] == {"MODE": "slow"}  # secrets are never stored
    assert job_type["configuration"]["output_workspaces"]["default"] == "archive"
    # New jobs take the new max_tries.
    assert queue(api, auth, algo["id"], {})["max_tries"] == 5


@pytest.mark.parametrize(
    "body, status, detail",
    [
        ({"name": "renamed"}, 400, 'Field may not be changed: "name"'),
        ({"is_paused": "perhaps"}, 400, 'Parameter must be a valid boolean: "is_paused"'),
        (
            {"icon_code": "&#xf1b2"},
            400,
            'Parameter "icon_code" must be a hexadecimal Unicode code point, such as "f1b2"',
        ),
        ({"max_tries": 0}, 400, 'Parameter must be at least 1: "max_tries"'),
        ({"configuration": {"output_workspaces": {"default": "nowhere"}}}, 400, None),
        ({"configuration": {"priority": "high"}}, 400, None),
        ({"configuration": []}, 400, 'Parameter must be a valid JSON object: "configuration"'),
    ],
)
def test_bad_changes_are_refused(api, auth, algo, body, status, detail):
    r = api.simulate_patch("/v6/job-types/my-algo/1.0.0/", json=body, headers=auth)
    assert r.status_code == status, r.text
    if detail is not None:
        assert r.json["detail"] == detail
    else:
        assert r.json["detail"].startswith("Job type configuration invalid:")
    assert details(api)["configuration"]["output_workspaces"]["default"] == "products"  # nothing changed


def test_unknown_job_type_and_who_may_change(api, auth, algo, stores):
    r = api.simulate_patch("/v6/job-types/my-algo/9.9.9/", json={"is_paused": True}, headers=auth)
    assert r.status_code == 404
    stores.users.add_user("bob", None)
    token, _ = stores.users.create_token("bob", "reads")
    reader = {"Authorization": f"Bearer {token}"}
    r = api.simulate_patch("/v6/job-types/my-algo/1.0.0/", json={"is_paused": True}, headers=reader)
    assert (r.status_code, r.json["detail"]) == (403, "You do not have permission to perform this action.")
    r = api.simulate_post("/v6/job-types/validation/", json={"manifest": settings_manifest()}, headers=reader)
    assert r.status_code == 403
    r = api.simulate_patch("/v6/job-types/my-algo/1.0.0/", json={"is_paused": True})
    assert r.status_code == 401
    assert details(api)["is_paused"] is False


def test_validation_findings(api, auth, refs):
    refs.add_workspace("products")
    m = settings_manifest("new-one")
    ok = validate(api, auth, {"manifest": m})
    assert ok["is_valid"] is True
    assert ok["warnings"] == [{"name": "MISSING_SETTING", "description": "Setting 'MODE' has no value"}]
    configuration = {
        "settings": {"MODE": "x", "COLOUR": "red"},
        "output_workspaces": {"default": "products", "outputs": {"tiles": "lost", "maps": "products"}},
    }
    result = validate(api, auth, {"manifest": m, "configuration": configuration})
    assert result == {
        "is_valid": False,
        "errors": [{"name": "MISSING_WORKSPACE", "description": "Workspace 'lost' does not exist"}],
        "warnings": [
            {"name": "UNKNOWN_SETTING", "description": "Setting 'COLOUR' is not in the manifest"},
            {"name": "UNKNOWN_OUTPUT", "description": "'maps' is not a file output of the manifest"},
        ],
    }
    bad = validate(api, auth, {"manifest": {"seedVersion": "1.0.0", "job": {"name": "Bad Name!"}}})
    assert bad["is_valid"] is False and [e["name"] for e in bad["errors"]] == ["INVALID_MANIFEST"]
    assert bad["errors"][0]["description"].startswith("Invalid manifest:")
    bad = validate(api, auth, {"manifest": m, "configuration": {"priority": 0}})
    assert [e["name"] for e in bad["errors"]] == ["INVALID_CONFIGURATION"]
    # The same findings stop a create: validation is a dry run of it.
    r = api.simulate_post(
        "/v6/job-types/",
        json={"docker_image": "img:1", "manifest": m, "configuration": configuration},
        headers=auth,
    )
    assert r.status_code == 400 and "lost" in r.json["detail"]
    r = api.simulate_post("/v6/job-types/validation/", json={"configuration": {}}, headers=auth)
    assert (r.status_code, r.json["detail"]) == (400, 'Missing required parameter: "manifest"')


def test_create_wizard_body(api, auth):
    # The wizard starts from initialJobType: an empty default workspace and empty mounts and settings.
    body = {
        "icon_code": "f0c3",
        "docker_image": "my-algo:1.0",
        "manifest": manifest("wizard", files=()),
        "configuration": {"output_workspaces": {"default": "", "outputs": {}}, "mounts": {}, "settings": {}},
    }
    assert validate(api, auth, {"manifest": body["manifest"], "configuration": body["configuration"]})["is_valid"]
    r = api.simulate_post("/v6/job-types/", json=body, headers={**ANGULAR, **auth})
    assert r.status_code == 201 and r.json["icon_code"] == "f0c3"


def test_names_and_versions(api, auth):
    for version in ("1.0.0", "1.10.0", "1.2.0"):
        add_job_type(api, auth, manifest("my-algo", version, files=(), title=f"My Algorithm {version}"))
    add_job_type(api, auth, manifest("other", files=(), title="Other"), is_active=False)
    page = api.simulate_get("/v6/job-type-names/", query_string="page_size=1000", headers=ANGULAR).json
    assert [(n["name"], n["versions"], n["latest_version"]) for n in page["results"]] == [
        ("my-algo", ["1.10.0", "1.2.0", "1.0.0"], "1.10.0"),
        ("other", ["1.0.0"], "1.0.0"),
    ]
    assert page["results"][0]["title"] == "My Algorithm 1.10.0" and page["results"][0]["icon_code"] == "f1b2"
    active = api.simulate_get("/v6/job-type-names/", query_string="is_active=true&keyword=ALGO").json
    assert [n["name"] for n in active["results"]] == ["my-algo"] and active["count"] == 1
    versions = api.simulate_get("/v6/job-types/my-algo/", query_string="page_size=1000", headers=ANGULAR).json
    assert [t["version"] for t in versions["results"]] == ["1.10.0", "1.2.0", "1.0.0"]
    assert versions["count"] == 3 and versions["results"][0]["title"] == "My Algorithm 1.10.0"
    second = api.simulate_get("/v6/job-types/my-algo/", query_string="page=2&page_size=2").json
    assert [t["version"] for t in second["results"]] == ["1.0.0"]
    assert api.simulate_get("/v6/job-types/other/", query_string="is_active=true").json["count"] == 0
    assert api.simulate_get("/v6/job-types/nothing/").json == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    # The literal routes win over a name.
    assert "results" in api.simulate_get("/v6/job-types/status/").json
    assert api.simulate_get("/v6/job-types/validation/").status_code == 405
