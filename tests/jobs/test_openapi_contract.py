"""The served OpenAPI document describes every job route, and responses match it.

Every response of tests/jobs is validated by tests.jobs.contract.ContractClient (see conftest.py); these tests
check the document itself and that the validation really rejects a body that breaks the schema.
"""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from jsonschema.validators import validator_for

from tests.jobs.contract import check_response
from tests.jobs.helpers import add_job_type, manifest, queue

JOB_ROUTES = {
    "/v6/job-types/": {"get", "post"},
    "/v6/job-types/{name}/{version}/": {"get"},
    "/v6/jobs/": {"get", "post"},
    "/v6/jobs/{job_id}/": {"get"},
    "/v6/jobs/{job_id}/input_files/": {"get"},
    "/v6/jobs/{job_id}/executions/": {"get", "post"},
    "/v6/jobs/{job_id}/executions/{exe_num}/": {"get"},
    "/v6/jobs/cancel/": {"post"},
    "/v6/jobs/requeue/": {"post"},
    "/v6/job-executions/{exe_id}/": {"get", "patch"},
    # What executors call instead of opening the database (issue 23).
    "/v6/executors/{node}/claim/": {"post"},
    "/v6/executors/{node}/leases/": {"post"},
    "/v6/executors/{node}/running/": {"get", "post"},
    "/v6/job-executions/{exe_id}/node/": {"put"},
}
# POSTs that take no body.
NO_BODY = {("/v6/executors/{node}/running/", "post")}


@pytest.fixture
def doc(api):
    return api.simulate_get("/v6/openapi.json").json


def test_every_job_route_is_documented(doc):
    assert doc["openapi"] == "3.1.0"
    for path, methods in JOB_ROUTES.items():
        assert methods <= set(doc["paths"][path]), path
        for method in methods:
            op = doc["paths"][path][method]
            assert "200" in op["responses"] or "201" in op["responses"] or "202" in op["responses"]
            if method in ("post", "patch", "put"):
                assert op["security"] == [{"bearer": []}, {"session": []}]
                assert ("requestBody" in op) != ((path, method) in NO_BODY), (path, method)


def test_query_parameters_are_declared(doc):
    params = {p["name"] for p in doc["paths"]["/v6/jobs/"]["get"]["parameters"]}
    assert {"page", "page_size", "status", "order", "source_tasks", "is_superseded", "error_category"} <= params


def test_component_schemas_are_valid(doc):
    for schema in doc["components"]["schemas"].values():
        validator_for(schema).check_schema(schema)


def test_a_wrong_body_is_rejected(api, auth, doc):
    job_type = add_job_type(api, auth, manifest(files=()))
    job = queue(api, auth, job_type["id"], {})
    check_response(doc, "GET", f"/v6/jobs/{job['id']}/", 200, job)
    with pytest.raises(ValidationError):
        check_response(doc, "GET", f"/v6/jobs/{job['id']}/", 200, {**job, "status": "DONE"})
    with pytest.raises(ValidationError):
        check_response(doc, "GET", f"/v6/jobs/{job['id']}/", 200, {**job, "extra": 1})
    with pytest.raises(AssertionError):
        check_response(doc, "GET", "/v6/jobs/", 418, {})


def test_request_body_schemas_accept_what_the_routes_accept(doc):
    body = doc["paths"]["/v6/jobs/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = validator_for({})({**body, "components": doc["components"]})
    assert validator.is_valid({"job_type_id": 1, "input": {"files": {"a": [1]}, "json": {}}})
    assert not validator.is_valid({"job_type_id": 1, "input": {"other": 1}})


def test_the_executor_routes_answer_as_documented(api, auth):
    """Each answer of the executor routes validated against the document (the ContractClient): a claim, an empty
    queue, renewals, the running list, a move, a recovery, and bad input."""
    job_type = add_job_type(api, auth, manifest(files=()))
    job = queue(api, auth, job_type["id"], {})
    claim = api.simulate_post("/v6/executors/node-a/claim/", json={"lease_seconds": 30}, headers=auth)
    assert claim.status_code == 200 and claim.json["job_id"] == job["id"]
    exe = claim.json["id"]
    assert api.simulate_post("/v6/executors/node-a/claim/", json={"lease_seconds": 30}, headers=auth).status_code == 204
    r = api.simulate_post(
        "/v6/executors/node-a/leases/", json={"executions": [exe, 999], "lease_seconds": 30}, headers=auth
    )
    assert r.json == {"ended": [999]}
    assert api.simulate_get("/v6/executors/node-a/running/").json == {"running": [exe]}
    r = api.simulate_put(f"/v6/job-executions/{exe}/node/", json={"node": "node-b"}, headers=auth)
    assert r.json == {"moved": True}
    assert api.simulate_get(f"/v6/job-executions/{exe}/").json["node"]["hostname"] == "node-b"
    assert api.simulate_post("/v6/executors/node-b/running/", headers=auth).json == {"failed": 1}
    assert api.simulate_put("/v6/job-executions/999/node/", json={"node": "x"}, headers=auth).status_code == 404
    r = api.simulate_post("/v6/executors/node-a/leases/", json={"executions": "all", "lease_seconds": 30}, headers=auth)
    assert r.status_code == 400 and "executions" in r.json["detail"]
