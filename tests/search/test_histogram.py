"""Matches over time: exact counts that add up to the total, against the real Elasticsearch."""

from __future__ import annotations

from collections import Counter

import pytest

from core.times import format_ns
from tests.search.helpers import BASE_NS, NS, index_ours, our_doc

MINUTE = 60 * NS


@pytest.fixture
def spread(es, log_prefix, execution):
    """12,000 lines over three hours, two in three matching "error"; stderr on odd numbers."""
    docs = [
        our_doc(
            execution.cluster_id,
            BASE_NS + i * 900_000_000,  # 0.9 s apart
            i,
            f"error {i}" if i % 3 else f"fine {i}",
            "stderr" if i % 2 else "stdout",
        )
        for i in range(1, 12_001)
    ]
    index_ours(es, log_prefix, docs)
    return [d for d in docs if d["message"].startswith("error")]


def test_buckets_add_up_to_the_exact_total(client, spread):
    total = client.simulate_get("/v6/logs/", params={"q": "error"}).json["count"]
    assert total == len(spread) == 8_000
    auto = client.simulate_get("/v6/logs/histogram/", params={"q": "error", "by": "stream"}).json
    assert auto["total"] == total and auto["undated"] == 0 and len(auto["buckets"]) <= 200
    assert sum(b["count"] for b in auto["buckets"]) == total
    for b in auto["buckets"]:
        assert sum(b["streams"].values()) == b["count"] and b["streams"]["other"] == 0
    assert auto["interval"] == "1m"  # 3 hours: 1m gives 181 buckets, 30s would give 361
    # An explicit interval: each bucket equals a count in Python of the lines written.
    r = client.simulate_get("/v6/logs/histogram/", params={"q": "error", "interval": "10m", "stream": "stderr"}).json
    expected = Counter(
        (int(d["scale_order_num"]) * 900_000_000 + BASE_NS) // (10 * MINUTE) for d in spread if d["stream"] == "stderr"
    )
    got = {b["start"]: b["count"] for b in r["buckets"]}
    assert got == {format_ns(k * 10 * MINUTE): n for k, n in sorted(expected.items())}
    assert r["total"] == sum(expected.values())


def test_histogram_bad_input(client, spread):
    for params, named in (
        ({"interval": "5x"}, '"interval"'),
        ({"interval": "1ms"}, '"interval"'),  # millions of buckets
        ({"by": "node"}, '"by"'),
        ({"q": " "}, '"q"'),
        ({"started": "2023-11-15T00:00:00Z", "ended": "2023-11-14T00:00:00Z"}, "Start time"),
    ):
        r = client.simulate_get("/v6/logs/histogram/", params=params)
        assert r.status_code == 400 and named in r.json["detail"], (params, r.text)
    empty = client.simulate_get("/v6/logs/histogram/", params={"q": "nothingmatches"}).json
    assert empty == {"total": 0, "undated": 0, "interval": "1ms", "buckets": []}
