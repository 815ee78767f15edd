"""Scale's web UI reading execution logs, as it does it (../notes/scale-ui-contract.md 4.10): GET
/v6/job-executions/{id}/logs/combined/ every 5 s with Angular's Accept and no parameters, the whole log each time;
it concatenates hits.hits, sorts them by the _source['@timestamp'] string then scale_order_num, drops lines whose
scale_order_num it has seen, and prints "<@timestamp>: <message>". A 204 shows "Waiting for log output".

Also the body's shape for every kind of read (whole, page, after, tail, window), the flat array opt-in, the
fixed-width @timestamp in every format that shows it, and the status route's Elasticsearch dependency.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from tests.search.helpers import BASE_NS, hits_of, index_legacy, index_ours, legacy_doc, lines_of, messages, our_doc

ANGULAR = {"Accept": "application/json, text/plain, */*"}
WIDTH = len("2023-11-14T22:13:20.000000000Z")


def url(exe, stream="combined") -> str:
    return f"/v6/job-executions/{exe.id}/logs/{stream}/"


def ui_poll(client, exe, shown: list[dict]) -> str | list[dict]:
    """One poll of the UI's log viewer: "waiting" on a 204, else the lines it shows after merging."""
    r = client.simulate_get(url(exe), headers=ANGULAR)
    if r.status_code == 204:
        return "waiting"
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    merged = shown + [hit["_source"] for hit in r.json["hits"]["hits"]]
    merged.sort(key=lambda line: (line["@timestamp"], line["scale_order_num"]))  # lodash sortBy, strings
    seen, out = set(), []
    for line in merged:  # uniqBy scale_order_num
        if line["scale_order_num"] not in seen:
            seen.add(line["scale_order_num"])
            out.append(line)
    return out


def shown_text(lines: list[dict]) -> str:
    return "".join(f"{line['@timestamp']}: {line['message']}\n" for line in lines)


def post_lines(client, auth, es, settings, exe, lines) -> None:
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    r = client.simulate_post(
        f"/v6/job-executions/{exe.id}/logs/", body=body, headers={**auth, "Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 202, r.text
    es.indices.refresh(index=f"{settings.log_index_prefix}-*")


def test_the_ui_log_viewer_polling_an_execution(client, auth, es, settings, execution):
    assert ui_poll(client, execution, []) == "waiting"
    # Posted lines of one body share their receive time: only their order numbers tell them apart.
    post_lines(
        client,
        auth,
        es,
        settings,
        execution,
        [{"message": f"line {i}", "stream": "stdout"} for i in (1, 2)] + [{"message": "oops", "stream": "stderr"}],
    )
    first = ui_poll(client, execution, [])
    assert [line["message"] for line in first] == ["line 1", "line 2", "oops"]
    assert [line["scale_order_num"] for line in first] == [1, 2, 3]
    assert {len(line["@timestamp"]) for line in first} == {WIDTH}
    # Before the others, within the clock skew an executor's stamp may have (ingest.posting_window).
    early = (datetime.now(UTC) - timedelta(seconds=120)).replace(microsecond=500000)
    post_lines(
        client,
        auth,
        es,
        settings,
        execution,
        [
            {"message": "later", "stream": "stdout"},
            {"message": "early", "stream": "stdout", "@timestamp": early.isoformat()},
        ],
    )
    second = ui_poll(client, execution, first)  # the whole log again, merged with what is shown
    assert [line["message"] for line in second] == ["early", "line 1", "line 2", "oops", "later"]
    text = shown_text(second)
    assert text.startswith(early.strftime("%Y-%m-%dT%H:%M:%S.500000000Z: early\n"))
    assert text.splitlines()[1].endswith(": line 1") and len(text.splitlines()[1]) == WIDTH + len(": line 1")


def test_string_order_is_time_order_across_digit_counts(es, log_prefix, client, execution):
    # Times whose shortest forms have 0, 3, 6 and 9 fraction digits: as strings they sort right only at one width.
    times = [BASE_NS, BASE_NS + 1, BASE_NS + 1_000, BASE_NS + 120_000_000, BASE_NS + 1_000_000_000]
    index_ours(es, log_prefix, [our_doc(execution.cluster_id, ns, i + 1, f"m{i}") for i, ns in enumerate(times)])
    lines = ui_poll(client, execution, [])
    assert [line["message"] for line in lines] == ["m0", "m1", "m2", "m3", "m4"]
    assert [line["@timestamp"] for line in lines] == [
        "2023-11-14T22:13:20.000000000Z",
        "2023-11-14T22:13:20.000000001Z",
        "2023-11-14T22:13:20.000001000Z",
        "2023-11-14T22:13:20.120000000Z",
        "2023-11-14T22:13:21.000000000Z",
    ]


@pytest.fixture
def ten(es, log_prefix, execution):
    docs = [
        our_doc(
            execution.cluster_id, BASE_NS + i * 1_000_000, i + 1, f"line {i + 1}", "stderr" if i % 3 == 0 else "stdout"
        )
        for i in range(10)
    ]
    index_ours(es, log_prefix, docs)
    return docs


def test_body_shape_for_every_read(es, log_prefix, client, execution, ten):
    whole = client.simulate_get(url(execution), headers=ANGULAR)
    hits = hits_of(whole.json)
    assert [h["_source"]["message"] for h in hits] == [f"line {i}" for i in range(1, 11)]
    # Each hit names the real document: the same _index and _id Elasticsearch has for it.
    found = es.search(index=f"{log_prefix}-*", query={"term": {"scale_order_num": 4}})["hits"]["hits"][0]
    assert (hits[3]["_index"], hits[3]["_id"]) == (found["_index"], found["_id"])
    assert hits[3]["sort"][:2] == [BASE_NS + 3_000_000, 4]
    assert hits[3]["_source"] == {
        "message": "line 4",
        "@timestamp": "2023-11-14T22:13:20.003000000Z",
        "scale_order_num": 4,
        "scale_task": f"{execution.cluster_id}_main",
        "scale_job_exe": execution.cluster_id,
        "scale_node": "node-1",
        "stream": "stderr",
    }
    # Streamed: the count comes after the hits (JSON leaves the order of keys free).
    assert whole.text.index('"hits":[') < whole.text.index('"total":10') < whole.text.index('"took":')

    page = client.simulate_get(url(execution), params={"limit": "4"}, headers=ANGULAR)
    assert messages(page.json) == ["line 1", "line 2", "line 3", "line 4"] and page.json["hits"]["total"] == 4
    rest = client.simulate_get(url(execution), params={"limit": "4", "after": page.headers["x-next-cursor"]})
    assert messages(rest.json) == ["line 5", "line 6", "line 7", "line 8"]
    after = client.simulate_get(url(execution), params={"after": rest.headers["x-next-cursor"]})
    assert messages(after.json) == ["line 9", "line 10"] and after.json["hits"]["total"] == 2
    tail = client.simulate_get(url(execution, "stderr"), params={"tail": "2"}, headers=ANGULAR)
    assert messages(tail.json) == ["line 7", "line 10"]
    window = client.simulate_get(
        url(execution), params={"started": "2023-11-14T22:13:20.002Z", "ended": "2023-11-14T22:13:20.004000000Z"}
    )
    assert messages(window.json) == ["line 3", "line 4", "line 5"]
    assert (
        client.simulate_get(url(execution), params={"started": "2023-11-14T22:13:21Z"}, headers=ANGULAR).status_code
        == 204
    )


def test_the_flat_array_is_a_named_opt_in(client, execution, ten):
    whole = client.simulate_get(url(execution), headers=ANGULAR)
    for params in ({"format": "array"}, {"format": "array", "limit": "4"}, {"format": "array", "tail": "3"}):
        r = client.simulate_get(url(execution), params=params, headers=ANGULAR)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert isinstance(r.json, list)
        expected = lines_of(whole.json)
        if "limit" in params:
            expected = expected[:4]
        if "tail" in params:
            expected = expected[-3:]
        assert r.json == expected
    r = client.simulate_get(url(execution), params={"format": "json"}, headers={"Accept": "text/plain"})
    assert hits_of(r.json)  # format wins over Accept


def test_openapi_documents_both_json_bodies(client):
    doc = client.simulate_get("/v6/openapi.json").json
    op = doc["paths"]["/v6/job-executions/{exe_id}/logs/{stream}/"]["get"]
    fmt = next(p for p in op["parameters"] if p["name"] == "format")
    assert fmt["schema"]["enum"] == ["json", "array", "txt", "html", "ndjson"]
    assert "array" in fmt["description"] and "hits.hits[]._source" in fmt["description"]
    body = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["oneOf"][0] == {"$ref": "#/components/schemas/LogSearchResponse"}
    assert body["oneOf"][1]["type"] == "array" and body["oneOf"][1]["items"] == {"$ref": "#/components/schemas/LogLine"}
    response = doc["components"]["schemas"]["LogSearchResponse"]
    assert response["required"] == ["took", "timed_out", "hits"]
    assert response["properties"]["hits"]["properties"]["hits"]["items"] == {"$ref": "#/components/schemas/LogHit"}


def test_every_format_showing_a_time_shows_it_at_one_width(client, execution, ten):
    ndjson = client.simulate_get(url(execution), params={"format": "ndjson"})
    assert {len(json.loads(row)["@timestamp"]) for row in ndjson.text.splitlines()} == {WIDTH}
    assert set(json.loads(ndjson.text.splitlines()[0])) == {
        "message",
        "@timestamp",
        "scale_order_num",
        "scale_task",
        "scale_job_exe",
        "scale_node",
        "stream",
    }  # unchanged
    sse = client.simulate_get(url(execution), headers={"Accept": "text/event-stream"})
    data = [json.loads(row[len("data: ") :]) for row in sse.text.splitlines() if row.startswith('data: {"')]
    assert len(data) == 10 and {len(line["@timestamp"]) for line in data} == {WIDTH}
    search = client.simulate_get(f"/v6/jobs/{execution.job_id}/logs/").json["results"]
    assert len(search) == 10 and {len(hit["@timestamp"]) for hit in search} == {WIDTH}
    assert search[0]["@timestamp"] == "2023-11-14T22:13:20.000000000Z"
    txt = client.simulate_get(url(execution), params={"format": "txt"}).text
    assert txt.splitlines() == [f"line {i}" for i in range(1, 11)]  # unchanged: messages only


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_status_names_elasticsearch_as_a_dependency(client, make_client, es, execution):
    status = client.simulate_get("/v6/status/", headers=ANGULAR)
    assert status.status_code == 200
    elasticsearch = status.json["dependencies"]["elasticsearch"]
    assert elasticsearch["OK"] is True and elasticsearch["errors"] == []
    assert elasticsearch["detail"]["msg"] == f"Elasticsearch {es.info()['version']['number']} answers."
    assert [n["hostname"] for n in status.json["nodes"]] == ["node-1"]
    assert status.json["nodes"][0]["job_executions"]["running"]["total"] == 1

    down = make_client(elasticsearch_url=f"http://127.0.0.1:{closed_port()}")
    status = down.simulate_get("/v6/status/", headers=ANGULAR)
    assert status.status_code == 200  # the page keeps polling; the navbar lists the dependency's error
    elasticsearch = status.json["dependencies"]["elasticsearch"]
    assert elasticsearch["OK"] is False and elasticsearch["detail"]["msg"].startswith("Elasticsearch is unavailable")
    assert list(elasticsearch["errors"][0]) == ["ELASTICSEARCH_UNAVAILABLE"]
    assert "127.0.0.1" not in json.dumps(status.json["dependencies"])  # no address in the answer
    assert status.json["dependencies"]["database"]["OK"] is True


def test_a_lone_surrogate_in_an_old_document_reads_as_a_replacement_character(es, log_prefix, client, execution):
    # Our pipeline replaces lone surrogates when it takes lines in; a legacy document may still hold one.
    index_legacy(
        es,
        log_prefix,
        [
            legacy_doc(execution.cluster_id, BASE_NS, "bad \ud800 char"),
            legacy_doc(execution.cluster_id, BASE_NS + 1, "fine"),
        ],
    )
    for fmt in ("json", "array", "ndjson", "txt", "html"):
        r = client.simulate_get(url(execution), params={"format": fmt})
        assert r.status_code == 200, fmt
        assert "bad \ufffd char" in r.text and "fine" in r.text, fmt
    assert messages(client.simulate_get(url(execution)).json) == ["bad \ufffd char", "fine"]
    assert (
        client.simulate_get(url(execution), params={"limit": "1"}).json["hits"]["hits"][0]["_source"]["message"]
        == "bad \ufffd char"
    )
