"""Facets of a search and the filters on the job's facts (status, error category from SQL; job type version from
the lines), against the real Elasticsearch and the real database; every answer validated against the OpenAPI
document."""

from __future__ import annotations

import orjson
import pytest

from api.app import create_app
from api.services import build_services
from search.finder import MANY_IDS, Filters
from tests.jobs.contract import ContractClient
from tests.search.helpers import BASE_NS, NS, index_legacy, index_ours, legacy_doc, our_doc

# facet field -> the filter parameter that selects one of its values
FILTER_OF = {
    "job_type": "job_type_name",
    "job_type_version": "job_type_version",
    "stream": "stream",
    "node": "node",
    "status": "status",
    "error_category": "error_category",
}
LOG_ROUTES = ("/v6/logs/", "/v6/logs/histogram/", "/v6/logs/export/", "/v6/logs/facets/")


@pytest.fixture
def contract(settings, clock):
    services = build_services(settings, clock)
    yield ContractClient(create_app(services, settings, clock))
    services.stores.close()


@pytest.fixture
def runs(es, log_prefix, start_execution, stores):
    """Four executions in SQL and one legacy run unknown to it, each with matching ("boom") and other lines:
    a FAILED (DATA) job, a COMPLETED one, a RUNNING one, a FAILED (ALGORITHM) one."""
    nodes = ("node-1", "node-2", "node-1", "node-3")
    exes = [start_execution(node) for node in nodes]
    shapes = [  # (matching lines, job type, version, host)
        (30, "alpha", "1.0", "node-1"),
        (20, "alpha", "2.0", "node-2"),
        (10, "beta", "1.0", "other-host"),
        (5, "beta", "1.0", "node-3"),
    ]
    docs = []
    for n, (exe, (matches, job_type, version, host)) in enumerate(zip(exes, shapes, strict=True)):
        for i in range(matches * 2):
            docs.append(
                our_doc(
                    exe.cluster_id,
                    BASE_NS + n * NS + i,
                    i + 1,
                    "boom at step" if i % 2 else "all fine",
                    "stderr" if i % 3 == 0 else "stdout",
                    scale_node=nodes[n],
                    host=host,
                    scale_job_type=job_type,
                    scale_job_version=version,
                    scale_job_id=str(exe.job_id),
                )
            )
    index_ours(es, log_prefix, docs)
    index_legacy(es, log_prefix, [legacy_doc("old-run", BASE_NS + 9 * NS + i, f"boom legacy {i}") for i in range(3)])
    stores.executions.finish_execution(exes[0].id, "FAILED", error={"title": "Bad input", "category": "DATA"})
    stores.executions.finish_execution(exes[1].id, "COMPLETED")
    stores.executions.finish_execution(exes[3].id, "FAILED", error={"title": "Crash", "category": "ALGORITHM"})
    return exes


def test_each_facet_count_equals_the_total_of_the_search_filtered_by_it(contract, runs):
    r = contract.simulate_get("/v6/logs/facets/", params={"q": "boom"})
    assert r.status_code == 200, r.text
    total, facets = r.json["total"], r.json["facets"]
    assert total == 30 + 20 + 10 + 5 + 3 == contract.simulate_get("/v6/logs/", params={"q": "boom"}).json["count"]
    assert set(facets) == set(FILTER_OF)
    assert facets["status"] == [
        {"value": "FAILED", "count": 35},
        {"value": "COMPLETED", "count": 20},
        {"value": "RUNNING", "count": 10},
    ]
    assert facets["error_category"] == [{"value": "DATA", "count": 30}, {"value": "ALGORITHM", "count": 5}]
    assert facets["job_type"] == [
        {"value": "alpha", "count": 50},
        {"value": "beta", "count": 15},
        {"value": "legacy-type", "count": 3},
    ]
    assert {f["value"] for f in facets["job_type_version"]} == {"1.0", "2.0", "1.0.0"}
    assert sum(f["count"] for f in facets["stream"]) == total
    # node: a line counts under scale_node and under host where they differ, as the node filter matches either
    assert {f["value"] for f in facets["node"]} == {"node-1", "node-2", "node-3", "other-host", "legacy-node"}
    checked = 0
    for field, values in facets.items():
        assert values, field
        for f in values:
            for route in ("/v6/logs/", "/v6/logs/histogram/"):
                filtered = contract.simulate_get(route, params={"q": "boom", FILTER_OF[field]: f["value"]})
                assert filtered.status_code == 200, filtered.text
                key = "count" if route == "/v6/logs/" else "total"
                assert filtered.json[key] == f["count"], (field, f, route)
            checked += 1
    assert checked == 3 + 2 + 3 + 3 + 2 + 5

    # the facets of a filtered search are those of its lines only; size keeps the most frequent values
    failed = contract.simulate_get(
        "/v6/logs/facets/", params={"q": "boom", "status": "FAILED", "fields": "job_type,error_category", "size": "1"}
    ).json
    assert failed == {
        "total": 35,
        "facets": {"job_type": [{"value": "alpha", "count": 30}], "error_category": [{"value": "DATA", "count": 30}]},
    }


def test_job_facts_filter_every_route_and_ride_on_every_hit(contract, client, runs):
    params = {"q": "boom", "status": "FAILED", "job_type_version": "1.0"}
    expected = {runs[0].cluster_id: 30, runs[3].cluster_id: 5}
    page = contract.simulate_get("/v6/logs/", params={**params, "page_size": "100"}).json
    assert page["count"] == 35 and {h["scale_job_exe"] for h in page["results"]} == set(expected)
    by_exe = {runs[0].cluster_id: "DATA", runs[3].cluster_id: "ALGORITHM"}
    for hit in page["results"]:
        assert hit["job_status"] == "FAILED" and hit["error_category"] == by_exe[hit["scale_job_exe"]]

    walked, url = [], None
    answer = contract.simulate_get("/v6/logs/", params={**params, "cursor": "*", "page_size": "10"}).json
    while True:
        walked += answer["results"]
        if not answer["next"]:
            break
        url = answer["next"].split("?", 1)[1]
        answer = contract.simulate_get("/v6/logs/", query_string=url).json
    assert len(walked) == 35 and len({(h["scale_job_exe"], h["scale_order_num"]) for h in walked}) == 35
    assert all(h["job_status"] == "FAILED" for h in walked)

    groups = contract.simulate_get("/v6/logs/", params={**params, "group": "execution"}).json["results"]
    assert {g["cluster_id"]: g["matches"] for g in groups} == expected
    assert {g["cluster_id"]: g["error_category"] for g in groups} == by_exe

    exported = client.simulate_get("/v6/logs/export/", params={**params, "format": "ndjson"})
    assert exported.status_code == 200
    assert sorted(orjson.loads(line)["scale_job_exe"] for line in exported.text.splitlines()) == sorted(
        [runs[0].cluster_id] * 30 + [runs[3].cluster_id] * 5
    )
    assert contract.simulate_get("/v6/logs/histogram/", params=params).json["total"] == 35
    data = contract.simulate_get("/v6/logs/", params={"q": "boom", "error_category": "DATA"}).json
    assert data["count"] == 30
    # a filter by a fact no execution of the search has matches nothing (not everything)
    assert contract.simulate_get("/v6/logs/", params={"q": "boom", "status": "CANCELED"}).json["count"] == 0
    # job_exe_id and status together: the executions of both
    both = {"q": "boom", "status": "FAILED", "job_exe_id": str(runs[1].id)}
    assert contract.simulate_get("/v6/logs/", params=both).json["count"] == 0
    legacy = contract.simulate_get("/v6/logs/", params={"q": "legacy"}).json["results"]
    assert legacy and all(h["job_status"] is None and h["error_category"] is None for h in legacy)


def rest_actions(es) -> dict[str, int]:
    """The node's own count of the REST requests it served, by action (nodes usage): a real counter, not a mock."""
    totals: dict[str, int] = {}
    for node in es.nodes.usage(metric="rest_actions").body["nodes"].values():
        for action, n in node["rest_actions"].items():
            totals[action] = totals.get(action, 0) + n
    return totals


def asked(es, before: dict[str, int], action: str) -> int:
    """How many requests of `action` the node served since `before` (rest_actions)."""
    return rest_actions(es).get(action, 0) - before.get(action, 0)


def test_field_caps_are_remembered_and_a_status_filter_walks_the_executions_once(es, contract, runs):
    before = rest_actions(es)
    for _ in range(3):
        r = contract.simulate_get("/v6/logs/facets/", params={"q": "boom", "fields": "job_type,node"})
        assert r.status_code == 200 and r.json["total"] == 68, r.text
    assert asked(es, before, "field_capabilities_action") == 1  # the first request asked, the next two remembered

    # status=FAILED with the job facets: the resolve's walk over the executions (one composite page) is the only
    # search; the facets take their counts from it
    before = rest_actions(es)
    params = {"q": "boom", "status": "FAILED", "fields": "status,error_category"}
    r = contract.simulate_get("/v6/logs/facets/", params=params)
    assert r.json == {
        "total": 35,
        "facets": {
            "status": [{"value": "FAILED", "count": 35}],
            "error_category": [{"value": "DATA", "count": 30}, {"value": "ALGORITHM", "count": 5}],
        },
    }
    assert asked(es, before, "search_action") == 1
    assert r.json["total"] == contract.simulate_get("/v6/logs/", params=params).json["count"]


JOB_ROUTE_FILTERS = [
    {"q": "boom"},
    {"q": "boom", "status": "FAILED"},
    {"q": "boom", "status": "COMPLETED"},
    {"error_category": "DATA"},
    {"error_category": "ALGORITHM"},
    {"job_type_version": "1.0", "stream": "stderr"},
    {"job_type_name": "alpha", "node": "node-1"},
    {"node": "other-host"},
    {"regex": ".*step", "started": "2023-11-14T22:13:21Z", "ended": "2023-11-14T22:13:22Z"},
    {"q": "fine", "stream": "stdout", "order": "-timestamp"},
]


@pytest.mark.parametrize("params", JOB_ROUTE_FILTERS)
def test_job_logs_route_filters_as_the_search_does(contract, runs, params):
    """/v6/jobs/{id}/logs/ answers exactly /v6/logs/?job_id=<id> with the same filters, for every job."""
    params = {"order": "timestamp", "page_size": "100", **params}
    answered = 0
    for exe in runs:
        ours = contract.simulate_get(f"/v6/jobs/{exe.job_id}/logs/", params=params)
        assert ours.status_code == 200, ours.text
        theirs = contract.simulate_get("/v6/logs/", params={**params, "job_id": str(exe.job_id)}).json
        assert ours.json["count"] == theirs["count"]
        # the same lines, links and facts; the job route takes the job type and execution number from the database
        # (these lines claim other types, to test job_type_name, and lack scale_job_exe_num)
        assert {(h["exe_num"], h["job_type"]["name"]) for h in ours.json["results"]} <= {(1, "log-test")}
        from_db = {"job_type": None, "exe_num": None}
        assert [{**h, **from_db} for h in ours.json["results"]] == [{**h, **from_db} for h in theirs["results"]]
        answered += theirs["count"]
    assert answered > 0  # each filter keeps some lines of some job


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"status": "DONE"}, "status"),
        ({"error_category": "system"}, "error_category"),
        ({"regex": ".*"}, "regex"),
        ({"regex": "(boom"}, "regex"),
        ({"q": " "}, "q"),
        ({"stream": "stdin"}, "stream"),
        ({"started": "yesterday"}, "parameter: started"),  # Scale's wording, as on /v6/logs/
        ({"started": "2024-01-02T00:00:00Z", "ended": "2024-01-01T00:00:00Z"}, "Start time must come before end"),
        ({"exe_num": "0"}, "exe_num"),
        ({"job_exe_id": "x"}, "job_exe_id"),
    ],
)
def test_job_logs_route_bad_filters_are_400_naming_the_parameter(contract, execution, params, name):
    said = name if " " in name else f'"{name}"'
    r = contract.simulate_get(f"/v6/jobs/{execution.job_id}/logs/", params=params)
    assert r.status_code == 400 and said in r.json["detail"], r.text
    if "exe_num" not in params:  # the job route's own parameter
        assert contract.simulate_get("/v6/logs/", params=params).json["detail"] == r.json["detail"]


def test_status_filter_follows_the_job_after_its_lines_were_indexed(es, log_prefix, contract, execution, stores):
    index_ours(es, log_prefix, [our_doc(execution.cluster_id, BASE_NS + i, i, f"step {i}") for i in range(1, 8)])
    assert contract.simulate_get("/v6/logs/", params={"q": "step", "status": "RUNNING"}).json["count"] == 7
    walk = {"q": "step", "status": "RUNNING", "cursor": "*", "page_size": "3"}
    first = contract.simulate_get("/v6/logs/", params=walk).json
    assert first["count"] == 7 and len(first["results"]) == 3 and first["next"]
    stores.executions.finish_execution(execution.id, "COMPLETED")
    # the walk's cursor names the status, not the executions: it stays valid, and the job left RUNNING
    following = contract.simulate_get("/v6/logs/", query_string=first["next"].split("?", 1)[1])
    assert following.status_code == 200 and following.json["results"] == []
    assert contract.simulate_get("/v6/logs/", params={"q": "step", "status": "RUNNING"}).json["count"] == 0
    done = contract.simulate_get("/v6/logs/", params={"q": "step", "status": "COMPLETED"}).json
    assert done["count"] == 7 and {h["job_status"] for h in done["results"]} == {"COMPLETED"}
    facets = contract.simulate_get("/v6/logs/facets/", params={"q": "step", "fields": "status"}).json
    assert facets["facets"] == {"status": [{"value": "COMPLETED", "count": 7}]}


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"status": "DONE"}, "status"),
        ({"error_category": "system"}, "error_category"),
        ({"status": "FAILED", "error_category": "NOPE"}, "error_category"),
    ],
)
def test_bad_job_fact_filters_are_400_naming_the_parameter(contract, params, name):
    for route in LOG_ROUTES:
        r = contract.simulate_get(route, params=params)
        assert r.status_code == 400 and f'"{name}"' in r.json["detail"], (route, r.text)
    grouped = contract.simulate_get("/v6/logs/", params={**params, "group": "execution"})
    assert grouped.status_code == 400 and f'"{name}"' in grouped.json["detail"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"fields": "job_type,owner"}, "fields"),
        ({"fields": "Status"}, "fields"),
        ({"size": "0"}, "size"),
        ({"size": "-3"}, "size"),
        ({"size": "ten"}, "size"),
        ({"size": "101"}, "size"),
        ({"size": "99999999999999999999999"}, "size"),
    ],
)
def test_bad_facet_parameters_are_400_naming_the_parameter(contract, params, name):
    r = contract.simulate_get("/v6/logs/facets/", params=params)
    assert r.status_code == 400 and f'"{name}"' in r.json["detail"], r.text


def test_facets_without_matches_and_the_route_documented(contract):
    empty = contract.simulate_get("/v6/logs/facets/", params={"q": "nothing", "fields": "stream,status"})
    assert empty.json == {"total": 0, "facets": {"stream": [], "status": []}}
    paths = contract.simulate_get("/v6/openapi.json").json["paths"]
    names = {p["name"] for p in paths["/v6/logs/facets/"]["get"]["parameters"]}
    assert {"fields", "size", "status", "error_category", "job_type_version", "q", "node"} <= names
    for route in ("/v6/logs/", "/v6/logs/histogram/", "/v6/logs/export/"):
        names = {p["name"] for p in paths[route]["get"]["parameters"]}
        assert {"status", "error_category", "job_type_version"} <= names, route


def test_many_executions_are_filtered_in_chunks(es, log_prefix, log_search, execution):
    """More than MANY_IDS executions (a status filter's) go to Elasticsearch as terms on the keyword field."""
    index_ours(es, log_prefix, [our_doc(execution.cluster_id, BASE_NS + i, i, "x y z") for i in range(1, 4)])
    others = [f"absent-{i}" for i in range(MANY_IDS + 500)]
    count, hits = log_search.search(Filters(cluster_ids=[*others, execution.cluster_id]), 0, 10)
    assert count == 3 and {h["scale_job_exe"] for h in hits} == {execution.cluster_id}
    assert log_search.search(Filters(cluster_ids=others), 0, 10)[0] == 0
