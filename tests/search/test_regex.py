"""regex=: the lines a Lucene regular expression matches equal a brute-force scan with Python's re."""

from __future__ import annotations

import random
import re

import pytest

from tests.search.helpers import BASE_NS, index_ours, our_doc

PATTERNS = [
    ".*disk /dev/sd[a-c][0-9]+ full.*",
    "ERROR [0-9]{2} .*",
    "ERROR \\d\\d .*",
    "warn: (retry|retries) [0-9]/5",
    "user[0-9]*@example\\.com logged (in|out)",
    ".*[^a-z]full",
    "warn: .*timeout after [1-9][0-9]*(ms|s)",
    ".*a+b?c*dq.*full",
]


@pytest.fixture
def varied(es, log_prefix, execution):
    rnd = random.Random(21)
    words = ["disk", "full", "ERROR", "warn:", "retry", "retries", "timeout", "after", "user@example.com", "abcdq"]
    messages = []
    for _ in range(3_000):
        kind = rnd.randrange(6)
        if kind == 0:
            messages.append(f"disk /dev/sd{rnd.choice('abcdz')}{rnd.randrange(12)} full")
        elif kind == 1:
            messages.append(f"ERROR {rnd.randrange(5, 150)} {rnd.choice(words)}")
        elif kind == 2:
            messages.append(f"warn: {rnd.choice(['retry', 'retries', 'retried'])} {rnd.randrange(8)}/5")
        elif kind == 3:
            messages.append(
                f"user{rnd.randrange(40) if rnd.random() < 0.7 else ''}@example.com logged {rnd.choice(['in', 'out', 'on'])}"
            )
        elif kind == 4:
            messages.append(f"warn: timeout after {rnd.randrange(0, 300)}{rnd.choice(['ms', 's', 'm'])}")
        else:
            messages.append(
                " ".join(rnd.choice(words) for _ in range(rnd.randrange(1, 6))) + rnd.choice(["", " full", "Xfull"])
            )
    docs = [our_doc(execution.cluster_id, BASE_NS + i, i + 1, m) for i, m in enumerate(messages)]
    index_ours(es, log_prefix, docs)
    return messages


def test_regex_results_equal_a_python_scan(client, varied, execution):
    for pattern in PATTERNS:
        expected = [m for m in varied if re.fullmatch(pattern, m)]
        assert expected, pattern  # each pattern matches something here, and (below) not everything
        assert len(expected) < len(varied)
        params = {"regex": pattern, "job_exe_id": str(execution.id)}
        r = client.simulate_get("/v6/logs/export/", params={**params, "format": "txt"})
        assert r.status_code == 200, (pattern, r.text)
        assert r.text.splitlines() == expected, pattern
        r = client.simulate_get("/v6/logs/", params=params)
        assert r.json["count"] == len(expected), pattern
        assert client.simulate_get("/v6/logs/histogram/", params=params).json["total"] == len(expected)
    # With words too: both must hold.
    r = client.simulate_get("/v6/logs/", params={"q": "full", "regex": ".*/dev/sda.*", "page_size": "1000"})
    assert sorted(h["message"] for h in r.json["results"]) == sorted(
        m for m in varied if re.fullmatch(".*/dev/sda.*", m) and "full" in m.split()
    )


@pytest.mark.parametrize(
    "pattern, says",
    [
        ("ab", "literal of at least 3"),
        (".*", "literal of at least 3"),
        ("abc|d.*", "literal of at least 3"),
        ("(error).*", "literal of at least 3"),
        ("abc(", 'unclosed "("'),
        ("abc[", 'unclosed "["'),
        ("abc\\", "unfinished escape"),
        ("abc[z-a]", "not a valid Lucene regular expression"),
    ],
)
def test_bad_patterns(client, varied, pattern, says):
    for route in ("/v6/logs/", "/v6/logs/histogram/", "/v6/logs/export/"):
        r = client.simulate_get(route, params={"regex": pattern})
        assert r.status_code == 400 and '"regex"' in r.json["detail"] and says in r.json["detail"], (route, r.text)
