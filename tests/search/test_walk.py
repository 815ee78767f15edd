"""Every match, no cap: cursor walks over /v6/logs/ and the export, against the real Elasticsearch."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from search.walk import decode
from tests.search.helpers import BASE_NS, index_ours, our_doc

MATCHES = 12_500
LINK_KEYS = ("highlight", "context_url", "viewer_url")


@pytest.fixture
def many(es, log_prefix, start_execution):
    """12,500 matching lines over two executions, in runs of 1,000 sharing one nanosecond, and some that don't match."""
    exes = [start_execution(), start_execution()]
    docs = []
    for order in range(1, MATCHES // 2 + 1):
        for n, exe in enumerate(exes):
            ns = BASE_NS + order // 1_000
            text = f"disk full {order}" if not (n == 1 and order % 7 == 0) else f"quiet {order}"
            docs.append(our_doc(exe.cluster_id, ns, order, text, "stderr" if order % 2 else "stdout"))
    extra = [our_doc(exes[1].cluster_id, BASE_NS + 10, MATCHES + i, f"disk full late {i}") for i in range(1, 1_000)]
    index_ours(es, log_prefix, docs + extra)
    return exes, sum(1 for d in docs + extra if d["message"].startswith("disk"))


def query_of(link: str) -> dict:
    return {k: v[-1] for k, v in parse_qs(urlsplit(link).query).items()}


def walk(client, params: dict) -> tuple[int, list[dict]]:
    r = client.simulate_get("/v6/logs/", params={**params, "cursor": "*"})
    count, hits = r.json["count"], list(r.json["results"])
    while r.json["next"]:
        assert r.json["previous"] is None and r.json["count"] == count
        r = client.simulate_get("/v6/logs/", params=query_of(r.json["next"]))
        assert r.status_code == 200, r.text
        hits += r.json["results"]
    return count, hits


def test_a_cursor_walk_gives_every_match_once(client, many):
    _exes, expected = many
    assert expected > 10_000
    for order in ("timestamp", "-timestamp"):
        count, hits = walk(client, {"q": "disk", "page_size": "1000", "order": order})
        keys = [(h["scale_job_exe"], h["scale_order_num"]) for h in hits]
        assert count == expected == len(keys) == len(set(keys))
        times = [h["@timestamp"] for h in hits]
        assert times == sorted(times, reverse=order == "-timestamp")
    # Offset paging stays, capped, and says what to do instead.
    r = client.simulate_get("/v6/logs/", params={"q": "disk", "page": "11", "page_size": "1000"})
    assert r.status_code == 400 and "cursor" in r.json["detail"]


def test_the_export_equals_the_cursor_walk(client, many):
    exes, _expected = many
    params = {"q": "disk", "job_exe_id": str(exes[1].id)}
    _count, hits = walk(client, {**params, "order": "timestamp", "page_size": "1000"})
    walked = [{k: v for k, v in h.items() if k not in LINK_KEYS} for h in hits]
    r = client.simulate_get("/v6/logs/export/", params=params)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    assert r.text == "".join(json.dumps(h, separators=(",", ":"), ensure_ascii=False) + "\n" for h in walked)
    txt = client.simulate_get("/v6/logs/export/", params={**params, "format": "txt"}).text
    assert txt == "".join(h["message"] + "\n" for h in walked)
    rows = list(
        csv.reader(io.StringIO(client.simulate_get("/v6/logs/export/", params={**params, "format": "csv"}).text))
    )
    assert rows[0][0] == "@timestamp" and [row[-1] for row in rows[1:]] == [h["message"] for h in walked]
    assert len(walked) == sum(1 for o in range(1, MATCHES // 2 + 1) if o % 7) + 999


def test_expired_and_forged_cursors(es, client, many):
    r = client.simulate_get("/v6/logs/", params={"q": "disk", "cursor": "*", "page_size": "10"})
    following = query_of(r.json["next"])
    es.close_point_in_time(id=decode(following["cursor"]).pit_id)  # as when it expires
    r = client.simulate_get("/v6/logs/", params=following)
    assert r.status_code == 410 and "cursor=%2A" in r.json["detail"] and "expired" in r.json["detail"]
    for forged in ("nonsense", "2bm9uc2Vuc2U", "2" + "W10", "1abc"):
        r = client.simulate_get("/v6/logs/", params={"q": "disk", "cursor": forged})
        assert r.status_code == 400 and '"cursor"' in r.json["detail"], (forged, r.text)
    # A cursor made for another search is refused, not answered with that search's lines.
    r = client.simulate_get("/v6/logs/", params={"q": "disk", "cursor": "*", "page_size": "10"})
    other = {**query_of(r.json["next"]), "q": "quiet"}
    r = client.simulate_get("/v6/logs/", params=other)
    assert r.status_code == 400 and "another search" in r.json["detail"]
    r = client.simulate_get("/v6/logs/", params={"q": "disk", "cursor": "*", "page": "2"})
    assert r.status_code == 400 and '"page"' in r.json["detail"]
