"""Legacy index patterns are shared with other applications (Scale's default `logstash-*`): a search only ever
returns documents carrying Scale's execution fields, whatever it filters on (or none)."""

from __future__ import annotations

from tests.search.helpers import BASE_NS, index_legacy, index_ours, iso, legacy_doc, our_doc

# What another application's Logstash pipeline writes into the same pattern.
FOREIGN = {
    "@timestamp": iso(BASE_NS + 5_000_000).replace("Z", "+00:00"),
    "message": "payroll export: secret salary table",
    "host": "hr-app-1",
    "stream": "stdout",
    "service": "payroll",
}


def test_a_search_never_returns_another_applications_documents(es, log_prefix, client, execution):
    index_ours(es, log_prefix, [our_doc(execution.cluster_id, BASE_NS, 1, "ours: export done")])
    index_legacy(
        es,
        log_prefix,
        [legacy_doc("scale_job_3x1", BASE_NS + 1_000_000, "legacy: export done"), FOREIGN],
    )
    everything = client.simulate_get("/v6/logs/", params={"page_size": "100"})
    assert everything.status_code == 200
    assert sorted(hit["message"] for hit in everything.json["results"]) == ["legacy: export done", "ours: export done"]
    assert everything.json["count"] == 2
    for params in ({"q": "secret salary"}, {"q": "export"}, {"node": "hr-app-1"}, {"stream": "stdout"}):
        r = client.simulate_get("/v6/logs/", params=params)
        assert r.status_code == 200
        assert "payroll" not in r.text, params
