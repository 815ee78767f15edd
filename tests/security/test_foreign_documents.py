"""Attack: in a cluster shared with other applications, search the legacy `logstash-*` pattern (read by default)
for their logs. A document another application wrote there must never come back from any search."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.search.helpers import BASE_NS, index_ours, iso, our_doc


def test_a_planted_foreign_document_is_never_found(es, log_prefix, make_client, execution):
    # The service reads `<prefix>-logstash-*` as it reads `logstash-*` by default.
    client = make_client(legacy_log_indices=(f"{log_prefix}-logstash-*",))
    index_ours(es, log_prefix, [our_doc(execution.cluster_id, BASE_NS, 1, "job says hello")])
    foreign = f"{log_prefix}-logstash-{datetime.now(UTC):%Y.%m.%d}"
    es.index(
        index=foreign,
        document={
            "@timestamp": iso(BASE_NS + 1_000_000),
            "message": "db password is hunter2",
            "host": "payroll-1",
            "stream": "stdout",
            "application": "payroll",
        },
        refresh=True,
    )
    assert es.count(index=foreign)["count"] == 1  # it is there, readable by the service's reader role
    for params in ({}, {"q": "hunter2"}, {"q": "password"}, {"node": "payroll-1"}, {"stream": "stdout"}):
        r = client.simulate_get("/v6/logs/", params={**params, "page_size": "100"})
        assert r.status_code == 200, r.text
        assert "hunter2" not in r.text and "payroll" not in r.text, params
    assert [hit["message"] for hit in client.simulate_get("/v6/logs/").json["results"]] == ["job says hello"]
