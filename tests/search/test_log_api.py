"""The log routes through the app, against the real Elasticsearch and database."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.search.helpers import BASE_NS, NS, hits_of, index_legacy, index_ours, legacy_doc, lines_of, messages, our_doc


def url(exe, stream="combined") -> str:
    return f"/v6/job-executions/{exe.id}/logs/{stream}/"


def write(es, log_prefix, exe, lines, start_order=1, start_ns=BASE_NS):
    """Index (message, stream) pairs as lines of exe, one millisecond apart."""
    docs = [
        our_doc(
            exe.cluster_id,
            start_ns + i * 1_000_000,
            start_order + i,
            message,
            stream,
            scale_job_id=str(exe.job_id),
            scale_job_exe_num=str(exe.exe_num),
            scale_job_type="log-test",
            scale_job_version="1.0.0",
        )
        for i, (message, stream) in enumerate(lines)
    ]
    index_ours(es, log_prefix, docs)


@pytest.fixture
def six(es, log_prefix, execution):
    """Six lines, streams interleaved, two pairs sharing a timestamp, one with markup."""
    t = BASE_NS
    docs = [
        our_doc(execution.cluster_id, ns, order, msg, stream)
        for ns, order, msg, stream in [
            (t, 1, "one", "stdout"),
            (t + 1, 3, "three", "stdout"),
            (t + 1, 2, "two <script>alert(1)</script>", "stderr"),
            (t + 2, 4, "four", "stderr"),
            (t + 2, 5, "five", "stdout"),
            (t + 3, 6, "six", "stderr"),
        ]
    ]
    index_ours(es, log_prefix, docs)
    return ["one", "two <script>alert(1)</script>", "three", "four", "five", "six"]


def test_json_lines_in_order_for_each_stream(client, execution, six):
    r = client.simulate_get(url(execution))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert messages(r.json) == six
    lines = lines_of(r.json)
    assert lines[0] == {
        "message": "one",
        "@timestamp": "2023-11-14T22:13:20.000000000Z",
        "scale_order_num": 1,
        "scale_task": f"{execution.cluster_id}_main",
        "scale_job_exe": execution.cluster_id,
        "scale_node": "node-1",
        "stream": "stdout",
    }
    assert lines[1]["@timestamp"] == "2023-11-14T22:13:20.000000001Z"
    out = client.simulate_get(url(execution, "stdout")).json
    assert messages(out) == ["one", "three", "five"]
    err = client.simulate_get(url(execution, "stderr"), params={"limit": "10"}).json
    assert messages(err) == ["two <script>alert(1)</script>", "four", "six"]
    assert client.simulate_get(f"/v6/job-executions/{execution.id}/logs/other/").status_code == 404
    v7 = client.simulate_get(f"/v7/job-executions/{execution.id}/logs/stdout/").json
    assert hits_of(v7) == hits_of(out)


@pytest.mark.parametrize(
    "query, accept, media, kind",
    [
        ({}, None, "application/json", "json"),
        ({"format": "json"}, "image/png", "application/json", "json"),  # the format parameter wins
        ({"format": "array"}, None, "application/json", "array"),
        ({"format": "array"}, "application/x-ndjson", "application/json", "array"),
        ({"format": "txt"}, None, "text/plain", "txt"),
        ({"format": "html"}, None, "text/html", "html"),
        ({"format": "ndjson"}, None, "application/x-ndjson", "ndjson"),
        ({}, "application/json", "application/json", "json"),
        ({}, "text/plain", "text/plain", "txt"),
        ({}, "text/html,application/xhtml+xml,*/*;q=0.8", "text/html", "html"),
        ({}, "application/x-ndjson", "application/x-ndjson", "ndjson"),
        ({}, "text/event-stream", "text/event-stream", "sse"),
        ({}, "*/*", "application/json", "json"),
        ({}, "text/*", "text/plain", "txt"),
        ({}, "application/json;q=0, text/html;q=0.5, */*;q=0.1", "text/html", "html"),
    ],
)
def test_formats(client, execution, six, query, accept, media, kind):
    headers = {"Accept": accept} if accept else {}
    r = client.simulate_get(url(execution), params=query, headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == media
    if kind == "json":
        assert messages(r.json) == six
    elif kind == "array":
        assert [line["message"] for line in r.json] == six
    elif kind == "ndjson":
        assert [json.loads(row)["message"] for row in r.text.splitlines()] == six
    elif kind == "txt":
        assert r.text == "\n".join(six)
    elif kind == "html":
        assert "<script>" not in r.text and "two &lt;script&gt;alert(1)&lt;/script&gt;" in r.text
        assert '<div class="stderr">four</div>' in r.text and '<div class="stdout">five</div>' in r.text
    else:
        events = sse_events(r.text)
        assert [json.loads(e["data"])["message"] for e in events if e["event"] == "message"] == six
        assert events[-1]["event"] == "end" and all(e["id"] for e in events[:-1])


NOT_ACCEPTABLE = (
    "None of the acceptable media types can be produced: application/json, text/plain, text/html, "
    "application/x-ndjson, text/event-stream"
)


@pytest.mark.parametrize(
    "query, accept, status, detail",
    [
        (
            {"format": "xml"},
            None,
            400,
            "Parameter \"format\" values must be one of: ['json', 'array', 'txt', 'html', 'ndjson']",
        ),
        ({}, "image/png", 406, NOT_ACCEPTABLE),
        ({}, "application/json;q=0", 406, NOT_ACCEPTABLE),
        ({"limit": "0"}, None, 400, 'Parameter must be a valid integer: "limit"'),
        ({"limit": "10001"}, None, 400, 'Parameter "limit" must be between 1 and 10000'),
        ({"limit": "ten"}, None, 400, 'Parameter must be a valid integer: "limit"'),
        ({"tail": "10001"}, None, 400, 'Parameter "tail" must be between 1 and 10000'),
        ({"after": "forged"}, None, 400, "Invalid cursor for parameter: after"),
        ({"tail": "2", "limit": "5"}, None, 400, 'Parameter "tail" cannot be combined with "after" or "limit"'),
        ({"follow": "maybe"}, None, 400, 'Parameter must be a valid boolean: "follow"'),
        ({"follow": "true", "limit": "5"}, None, 400, 'Parameter "limit" cannot be combined with "follow"'),
        (
            {"started": "2020-01-01T00:00:00Z", "ended": "2020-01-01T00:00:00Z"},
            None,
            400,
            "Start and end values must be different",
        ),
        ({"started": "yesterday"}, None, 400, "Invalid ISO timestamp format for parameter: started"),
    ],
)
def test_bad_requests(client, execution, six, query, accept, status, detail):
    r = client.simulate_get(url(execution), params=query, headers={"Accept": accept} if accept else {})
    assert r.status_code == status
    assert r.json == {"detail": detail, "request_id": r.headers["X-Request-ID"]}


def test_unknown_execution_and_empty_log(client, start_execution, execution, six):
    assert client.simulate_get("/v6/job-executions/999999/logs/combined/").json["detail"] == "Not found."
    quiet = start_execution()
    assert client.simulate_get(url(quiet)).status_code == 204
    assert client.simulate_get(url(quiet), params={"limit": "5"}).status_code == 204
    assert client.simulate_get(url(quiet), params={"tail": "5"}).status_code == 204
    assert client.simulate_get(url(execution), params={"started": "2030-01-01T00:00:00Z"}).status_code == 204


def test_limit_after_link_and_cursor_headers(client, execution, six):
    r = client.simulate_get(url(execution), params={"limit": "4", "format": "json"})
    assert messages(r.json) == six[:4]
    cursor = r.headers["x-next-cursor"]
    link = r.headers["link"]
    assert link.startswith("<http://") and link.endswith('>; rel="next"')
    next_url = urlsplit(link[1 : link.index(">")])
    assert parse_qs(next_url.query) == {"after": [cursor], "format": ["json"], "limit": ["4"]}
    r = client.simulate_get(next_url.path, query_string=next_url.query)
    assert messages(r.json) == six[4:]
    assert "link" not in r.headers  # the last page
    last = r.headers["x-next-cursor"]  # still given, so a poller can continue from the end
    assert client.simulate_get(url(execution), params={"limit": "4", "after": last}).status_code == 204


def test_tail_and_time_window(es, log_prefix, client, execution):
    write(es, log_prefix, execution, [(f"second {i}", "stderr" if i % 2 else "stdout") for i in range(5)])
    # write() puts lines a millisecond apart: 22:13:20.000, .001, .002, .003, .004
    r = client.simulate_get(url(execution), params={"tail": "2"})
    assert messages(r.json) == ["second 3", "second 4"]
    r = client.simulate_get(url(execution, "stdout"), params={"tail": "2", "format": "txt"})
    assert r.text == "second 2\nsecond 4"
    r = client.simulate_get(
        url(execution), params={"started": "2023-11-14T22:13:20.001Z", "ended": "2023-11-14T22:13:20.003Z"}
    )
    assert messages(r.json) == ["second 1", "second 2", "second 3"]  # both ends inclusive
    r = client.simulate_get(url(execution), params={"ended": "2023-11-14T23:13:20+01:00"})
    assert messages(r.json) == ["second 0"]
    r = client.simulate_get(url(execution), params={"started": "2023-11-14T22:13:20.0035Z", "limit": "10"})
    assert messages(r.json) == ["second 4"]
    assert client.simulate_get(url(execution), params={"started": "PT1H"}).status_code == 204  # an hour ago


@pytest.mark.slow
def test_fifty_thousand_lines_by_pages_and_in_one_request(es, log_prefix, client, execution):
    total = 50_000
    # Timestamps repeat in runs of 7 so the order number and tie-breaker matter too.
    docs = [
        our_doc(
            execution.cluster_id,
            BASE_NS + (i // 7) * 1000,
            i + 1,
            f"line {i + 1}",
            "stderr" if i % 3 == 0 else "stdout",
        )
        for i in range(total)
    ]
    index_ours(es, log_prefix, docs)
    del docs
    expected = [f"line {i}" for i in range(1, total + 1)]

    got, target, params = [], url(execution), {"limit": "1000"}
    while True:
        r = client.simulate_get(target, params=params)
        got += messages(r.json)
        if "link" not in r.headers:
            break
        params = {"limit": "1000", "after": r.headers["x-next-cursor"]}
    assert len(got) == total and got == expected

    r = client.simulate_get(url(execution))  # no limit: streamed in chunks on a point-in-time
    assert messages(r.json) == expected
    r = client.simulate_get(url(execution), params={"format": "array"})
    assert [line["message"] for line in r.json] == expected
    r = client.simulate_get(url(execution), params={"format": "txt"})
    assert r.text == "\n".join(expected)
    # The stream closed its point-in-time: no search context left open.
    stats = es.indices.stats(index=f"{log_prefix}-*", metric="search")
    assert stats["_all"]["total"]["search"]["open_contexts"] == 0


def sse_events(text: str) -> list[dict]:
    events = []
    for block in text.split("\n\n"):
        event = {"event": "message", "data": "", "id": None}
        fields = [row for row in block.split("\n") if row and not row.startswith(":")]
        if not fields or fields[0].startswith("retry:"):
            continue
        for row in fields:
            name, _, value = row.partition(": ")
            event[name] = value
        events.append(event)
    return events


def test_follow_gets_lines_written_later_and_ends_with_the_execution(es, log_prefix, client, stores, execution):
    write(es, log_prefix, execution, [("before 1", "stdout"), ("before 2", "stderr")])

    def later():
        time.sleep(1.0)
        write(
            es,
            log_prefix,
            execution,
            [("after 1", "stdout"), ("after 2", "stderr")],
            start_order=3,
            start_ns=BASE_NS + 10 * NS,
        )
        time.sleep(0.8)
        write(es, log_prefix, execution, [("after 3", "stdout")], start_order=5, start_ns=BASE_NS + 11 * NS)
        stores.executions.finish_execution(execution.id, "COMPLETED")

    writer = threading.Thread(target=later)
    began = time.monotonic()
    writer.start()
    r = client.simulate_get(url(execution), params={"follow": "true"}, headers={"Accept": "text/event-stream"})
    writer.join()
    assert time.monotonic() - began >= 1.8  # it really waited for the lines written later
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    lines = [json.loads(e["data"])["message"] for e in events if e["event"] == "message"]
    assert lines == ["before 1", "before 2", "after 1", "after 2", "after 3"]
    assert events[-1]["event"] == "end"

    # Resume after the second event: exactly the rest, the URL's own cursor overridden by Last-Event-ID.
    second = events[1]["id"]
    r = client.simulate_get(
        url(execution),
        params={"follow": "true", "after": events[3]["id"]},
        headers={"Accept": "text/event-stream", "Last-Event-ID": second},
    )
    events = sse_events(r.text)
    assert [json.loads(e["data"])["message"] for e in events if e["event"] == "message"] == [
        "after 1",
        "after 2",
        "after 3",
    ]
    assert events[-1]["event"] == "end"
    # Following as NDJSON, and as text, on the finished execution.
    r = client.simulate_get(url(execution, "stdout"), params={"follow": "true", "tail": "2"})
    assert r.headers["content-type"] == "application/x-ndjson"
    assert [json.loads(row)["message"] for row in r.text.splitlines()] == ["after 1", "after 3"]
    r = client.simulate_get(url(execution, "stderr"), params={"follow": "true", "format": "txt"})
    assert r.text == "before 2\nafter 2\n"


def test_follow_is_bounded_by_follow_max_seconds(es, log_prefix, make_client, execution):
    write(es, log_prefix, execution, [("only line", "stdout")])
    client = make_client(follow_max_seconds=1.0)
    answers = []
    began = time.monotonic()
    # The execution never ends: only FOLLOW_MAX_SECONDS ends this follow. In a thread, so that a follow that
    # is not bounded fails the test instead of hanging it; the bound is generous (this is about time).
    follower = threading.Thread(
        target=lambda: answers.append(
            client.simulate_get(url(execution), params={"follow": "true"}, headers={"Accept": "text/event-stream"})
        ),
        daemon=True,
    )
    follower.start()
    follower.join(timeout=30)
    assert not follower.is_alive(), "the follow did not end after FOLLOW_MAX_SECONDS"
    assert time.monotonic() - began >= 1.0
    events = sse_events(answers[0].text)
    assert [e["event"] for e in events] == ["message"]  # no "end": the client reconnects with Last-Event-ID


def test_legacy_documents_through_the_api(es, log_prefix, client, execution):
    t = BASE_NS + 7_000_000
    index_legacy(
        es,
        log_prefix,
        [
            legacy_doc(execution.cluster_id, t + 2, "legacy second", "stderr"),
            legacy_doc(execution.cluster_id, t + 1, "legacy first"),
            legacy_doc(execution.cluster_id, t + NS, "legacy third"),
        ],
    )
    r = client.simulate_get(url(execution))
    lines = lines_of(r.json)
    assert [line["message"] for line in lines] == ["legacy first", "legacy second", "legacy third"]
    assert [line["@timestamp"] for line in lines] == [
        "2023-11-14T22:13:20.007000001Z",
        "2023-11-14T22:13:20.007000002Z",
        "2023-11-14T22:13:21.007000000Z",
    ]
    assert lines[0]["scale_order_num"] == 7_000_001 and lines[0]["scale_node"] == "legacy-node"
    assert all(hit["_index"].startswith(f"{log_prefix}-legacy-") for hit in hits_of(r.json))
    assert messages(client.simulate_get(url(execution, "stderr")).json) == ["legacy second"]


def test_search_routes(es, log_prefix, client, start_execution, execution):
    other = start_execution()
    write(
        es,
        log_prefix,
        execution,
        [("disk is full", "stderr"), ("all good", "stdout"), ("the disk is almost full", "stdout")],
    )
    write(es, log_prefix, other, [("disk is full again", "stdout")], start_ns=BASE_NS + NS)

    r = client.simulate_get("/v6/logs/", params={"q": '"disk is full"', "page_size": "1"})
    assert list(r.json) == ["count", "next", "previous", "results"]
    assert r.json["count"] == 2 and r.json["previous"] is None and "page=2" in r.json["next"]
    hit = r.json["results"][0]  # newest first
    assert hit["message"] == "disk is full again" and hit["highlight"] == "<em>disk is full</em> again"
    assert (hit["job_id"], hit["exe_num"], hit["job_type"]) == (
        other.job_id,
        1,
        {"name": "log-test", "version": "1.0.0"},
    )
    r = client.simulate_get(
        "/v6/logs/", params={"q": "disk full", "job_exe_id": str(execution.id), "order": "timestamp"}
    )
    assert [h["message"] for h in r.json["results"]] == ["disk is full", "the disk is almost full"]
    r = client.simulate_get("/v6/logs/", params={"q": "disk", "stream": "stderr", "job_id": str(execution.job_id)})
    assert [h["message"] for h in r.json["results"]] == ["disk is full"]
    for hostile in ("*:*", "message:/.*/", 'disk" OR "*', "(((", "disk AND NOT x"):
        r = client.simulate_get("/v6/logs/", params={"q": hostile})
        assert r.status_code == 200 and r.json["count"] == 0, hostile
    assert client.simulate_get("/v6/logs/", params={"q": '"disk'}).json["count"] == 3  # stray quote ignored
    assert client.simulate_get("/v6/logs/", params={"q": " "}).status_code == 400
    assert client.simulate_get("/v6/logs/", params={"q": "x", "page": "3"}).json["detail"] == "Invalid page."
    assert client.simulate_get("/v6/logs/", params={"q": "x", "page": "100", "page_size": "1000"}).status_code == 400

    r = client.simulate_get(f"/v6/jobs/{execution.job_id}/logs/")
    assert [h["message"] for h in r.json["results"]] == ["disk is full", "all good", "the disk is almost full"]
    assert {h["exe_num"] for h in r.json["results"]} == {1}
    r = client.simulate_get(f"/v6/jobs/{execution.job_id}/logs/", params={"q": "good"})
    assert [h["highlight"] for h in r.json["results"]] == ["all <em>good</em>"]
    assert client.simulate_get("/v6/jobs/999999/logs/").status_code == 404


def test_openapi_documents_the_log_routes(client):
    paths = client.simulate_get("/v6/openapi.json").json["paths"]
    logs = paths["/v6/job-executions/{exe_id}/logs/{stream}/"]["get"]
    assert {p["name"] for p in logs["parameters"]} >= {
        "format",
        "limit",
        "after",
        "tail",
        "follow",
        "started",
        "ended",
        "exe_id",
        "stream",
    }
    assert {"200", "204", "400", "404", "406", "503"} <= set(logs["responses"])
    assert "q" in {p["name"] for p in paths["/v6/logs/"]["get"]["parameters"]}
    assert "/v6/jobs/{job_id}/logs/" in paths and "/logs/{job_exe_id}" in paths


def test_viewer_page_and_assets(client, execution):
    r = client.simulate_get(f"/logs/{execution.id}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert '<script src="/viewer/viewer.js"' in r.text and "http" not in r.text  # nothing from elsewhere
    js = client.simulate_get("/viewer/viewer.js")
    assert js.status_code == 200 and "innerHTML" not in js.text
    assert client.simulate_get("/logs/999999").status_code == 404
    for bad in ("/viewer/..%2Fapp.py", "/viewer/app.py", "/viewer/.hidden.js", "/viewer/missing.js"):
        assert client.simulate_get(bad).status_code == 404, bad


def test_search_page_and_vendored_toolkits(client):
    page = client.simulate_get("/search")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/viewer/search.js"' in page.text and "http" not in page.text  # nothing from elsewhere
    # The CSS toolkit and the charting library are served from the repository, each beside its licence.
    vendor = Path(__file__).resolve().parents[2] / "api" / "viewer" / "vendor"
    for name, licence, kind in (
        ("pico.min.css", "pico.LICENSE.md", "text/css"),
        ("uPlot.min.css", "uPlot.LICENSE", "text/css"),
        ("uPlot.iife.min.js", "uPlot.LICENSE", "text/javascript"),
    ):
        served = client.simulate_get(f"/viewer/vendor/{name}")
        assert served.status_code == 200 and served.headers["content-type"].startswith(kind), name
        assert served.content == (vendor / name).read_bytes()
        assert "MIT License" in (vendor / licence).read_text()
    for bad in ("/viewer/vendor/pico.LICENSE.md", "/viewer/vendor/..%2Fsearch.js", "/viewer/vendor/missing.css"):
        assert client.simulate_get(bad).status_code == 404, bad


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_elasticsearch_down_is_503_while_job_routes_answer(make_client, execution):
    client = make_client(elasticsearch_url=f"http://127.0.0.1:{closed_port()}")
    for params in ({}, {"limit": "10"}, {"tail": "5"}, {"follow": "true"}):
        r = client.simulate_get(url(execution), params=params)
        assert r.status_code == 503, params
        assert r.json["detail"].startswith("Elasticsearch is unavailable")
    assert client.simulate_get("/v6/logs/", params={"q": "x"}).status_code == 503
    assert client.simulate_get(f"/v6/jobs/{execution.job_id}/logs/").status_code == 503
    assert client.simulate_get("/v6/jobs/").status_code == 200
    assert client.simulate_get(f"/v6/jobs/{execution.job_id}/").status_code == 200
    assert client.simulate_get(f"/v6/job-executions/{execution.id}/").status_code == 200
