"""The Search II routes' JSON answers, good and bad, validated against the served OpenAPI document."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from api.app import create_app
from api.services import build_services
from tests.jobs.contract import ContractClient
from tests.search.helpers import BASE_NS, index_ours, our_doc


@pytest.fixture
def contract(settings, clock):
    services = build_services(settings, clock)
    yield ContractClient(create_app(services, settings, clock))
    services.stores.close()


def test_new_routes_answer_as_documented(es, log_prefix, contract, execution):
    docs = [
        our_doc(execution.cluster_id, BASE_NS + i, i, f"disk {i}", "stderr" if i % 2 else "stdout")
        for i in range(1, 51)
    ]
    index_ours(es, log_prefix, docs)
    logs = f"/v6/job-executions/{execution.id}/logs/combined/"
    for params in ({"around": "10", "context": "3"}, {"around": "1", "context_after": "2", "format": "array"}):
        assert contract.simulate_get(logs, params=params).status_code == 200
    for params, status in (({"around": "x"}, 400), ({"around": "99"}, 404), ({"around": "5", "context": "1001"}, 400)):
        assert contract.simulate_get(logs, params=params).status_code == status

    first = contract.simulate_get("/v6/logs/", params={"q": "disk", "cursor": "*", "page_size": "20"})
    assert first.status_code == 200 and first.json["count"] == 50 and first.json["results"][0]["context_url"]
    following = {k: v[-1] for k, v in parse_qs(urlsplit(first.json["next"]).query).items()}
    assert contract.simulate_get("/v6/logs/", params=following).status_code == 200
    assert contract.simulate_get("/v6/logs/", params={"q": "disk", "cursor": "forged"}).status_code == 400
    from search.walk import decode

    es.close_point_in_time(id=decode(following["cursor"]).pit_id)
    assert contract.simulate_get("/v6/logs/", params=following).status_code == 410
    assert contract.simulate_get("/v6/logs/", params={"regex": ".*disk 1[0-9]"}).json["count"] == 10
    assert contract.simulate_get("/v6/logs/", params={"regex": "di"}).status_code == 400

    hist = contract.simulate_get("/v6/logs/histogram/", params={"q": "disk", "by": "stream", "interval": "1s"})
    assert hist.status_code == 200 and hist.json["total"] == 50
    assert contract.simulate_get("/v6/logs/histogram/", params={"interval": "week"}).status_code == 400
    assert contract.simulate_get("/v6/logs/export/", params={"format": "xml"}).status_code == 400
    paths = contract.simulate_get("/v6/openapi.json").json["paths"]
    assert {"/v6/logs/export/", "/v6/logs/histogram/"} <= set(paths)
    names = {p["name"] for p in paths["/v6/job-executions/{exe_id}/logs/{stream}/"]["get"]["parameters"]}
    assert {"around", "context", "context_before", "context_after"} <= names
    assert {"cursor", "regex"} <= {p["name"] for p in paths["/v6/logs/"]["get"]["parameters"]}
