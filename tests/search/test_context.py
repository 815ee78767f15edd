"""around=k&context=N: exactly the lines k-N ... k+N of the whole-log read, against the real Elasticsearch."""

from __future__ import annotations

import json

import pytest

from tests.search.helpers import BASE_NS, index_ours, lines_of, our_doc

SAME_NS = 2_500  # lines sharing one nanosecond


@pytest.fixture
def dense(es, log_prefix, execution):
    """3,000 lines: 2,500 in one nanosecond, then 500 whose time runs backwards as their number grows (so the
    read's order is not the numbers' order); every third line on stderr."""
    docs = []
    for order in range(1, 3_001):
        ns = BASE_NS if order <= SAME_NS else BASE_NS + 10_000_000 - order
        stream = "stderr" if order % 3 == 0 else "stdout"
        docs.append(our_doc(execution.cluster_id, ns, order, f"line {order}", stream))
    index_ours(es, log_prefix, docs)
    return execution


def url(exe, stream="combined") -> str:
    return f"/v6/job-executions/{exe.id}/logs/{stream}/"


def whole(client, exe, stream) -> list[int]:
    return [line["scale_order_num"] for line in lines_of(client.simulate_get(url(exe, stream)).json)]


@pytest.mark.parametrize("stream", ["combined", "stdout"])
def test_context_is_the_slice_of_the_whole_read(client, dense, stream):
    order = whole(client, dense, stream)
    assert len(order) == (3_000 if stream == "combined" else 2_000)
    picks = [order[0], order[1], order[len(order) // 2], order[SAME_NS * len(order) // 3_000 - 1], order[-3], order[-1]]
    for k in picks:
        i = order.index(k)
        for before, after in ((20, 20), (0, 7), (1_000, 3), (2, 1_000)):
            params = {"around": str(k), "context_before": str(before), "context_after": str(after)}
            r = client.simulate_get(url(dense, stream), params=params)
            assert r.status_code == 200, r.text
            lines = lines_of_marked(r.json)
            assert [line["scale_order_num"] for line in lines] == order[max(i - before, 0) : i + after + 1], (k, before)
            anchor = int(r.headers["X-Anchor-Index"])
            assert [j for j, line in enumerate(lines) if line.get("anchor")] == [anchor]
            assert lines[anchor]["scale_order_num"] == k


def lines_of_marked(body: dict) -> list[dict]:
    """lines_of, with the anchor's mark taken out of its frame check and put back."""
    marks = [hit["_source"].pop("anchor", None) for hit in body["hits"]["hits"]]
    lines = lines_of(body)
    for line, mark in zip(lines, marks):
        if mark is not None:
            assert mark is True
            line["anchor"] = True
    return lines


def test_context_in_every_format(client, dense):
    params = {"around": "2600", "context": "2"}  # in the backwards-running part: 2602, 2601, [2600], 2599, 2598
    expected = [2602, 2601, 2600, 2599, 2598]
    array = client.simulate_get(url(dense), params={**params, "format": "array"}).json
    assert [line["scale_order_num"] for line in array] == expected
    assert [line.get("anchor", False) for line in array] == [False, False, True, False, False]
    nd = client.simulate_get(url(dense), params={**params, "format": "ndjson"}).text.splitlines()
    assert [json.loads(row) for row in nd] == array
    txt = client.simulate_get(url(dense), params={**params, "format": "txt"}).text
    assert txt == "2602-line 2602\n2601-line 2601\n2600:line 2600\n2599-line 2599\n2598-line 2598"
    html = client.simulate_get(url(dense), params={**params, "format": "html"}).text
    assert html.count('class="stdout anchor"') == 1 and html.count("<div") == 5
    default = client.simulate_get(url(dense), params={"around": "1500"}).json
    assert len(lines_of_marked(default)) == 41  # 20 each side by default


def test_context_bad_input(client, dense):
    cases = [
        ({"around": "abc"}, 400, '"around"'),
        ({"around": "5", "context": "-1"}, 400, '"context"'),
        ({"around": "5", "context_after": "1001"}, 400, '"context_after"'),
        ({"around": "5", "context_before": "x"}, 400, '"context_before"'),
        ({"context": "5"}, 400, '"context"'),
        ({"around": "5", "tail": "3"}, 400, '"tail"'),
        ({"around": "5", "limit": "3"}, 400, '"limit"'),
        ({"around": "99999"}, 404, '"around"'),
    ]
    for params, status, named in cases:
        r = client.simulate_get(url(dense), params=params)
        assert r.status_code == status and named in r.json["detail"], (params, r.status_code, r.text)
    # Line 3 is on stderr: it is no line of the stdout read.
    r = client.simulate_get(url(dense, "stdout"), params={"around": "3"})
    assert r.status_code == 404 and "3" in r.json["detail"]


def test_search_hits_link_their_context_and_the_viewer(es, log_prefix, client, execution):
    docs = [our_doc(execution.cluster_id, BASE_NS + i, i, "needle" if i == 50 else f"hay {i}") for i in range(1, 101)]
    index_ours(es, log_prefix, docs)
    hit = client.simulate_get("/v6/logs/", params={"q": "needle"}).json["results"][0]
    assert hit["viewer_url"] == f"http://falconframework.org/logs/{execution.id}?around=50"
    path, query = hit["context_url"].removeprefix("http://falconframework.org").split("?")
    assert path == url(execution) and query == "around=50&context=20"
    lines = lines_of_marked(client.simulate_get(path, query_string=query).json)
    assert [line["scale_order_num"] for line in lines] == list(range(30, 71))
    assert [line["message"] for line in lines if line.get("anchor")] == ["needle"]
