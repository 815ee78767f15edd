"""POST /v6/job-executions/{id}/logs/: NDJSON lines from remote executors."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from tests.ingest.reading import read_lines


def ndjson(*items) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


def post(client, auth, exe_id, body: bytes, **kw):
    return client.simulate_post(
        f"/v6/job-executions/{exe_id}/logs/", body=body, headers={**auth, "Content-Type": "application/x-ndjson"}, **kw
    )


def test_posted_lines_are_numbered_stamped_and_stored(make_client, auth, es, settings, execution):
    frozen = datetime(2024, 3, 5, 6, 7, 8, 123456, tzinfo=UTC)
    client = make_client(clock=lambda: frozen)
    exe = execution
    body = (
        ndjson(
            {"message": "hello", "stream": "stdout"},
            {"message": "", "stream": "stderr", "scale_task": "t-1"},
            {
                "message": "given",
                "stream": "stdout",
                "@timestamp": "2024-03-05T06:07:09.000000001Z",
                "scale_order_num": 99,
            },
        )
        + b"\n"
    )
    resp = post(client, auth, exe.id, body)
    assert resp.status_code == 202, resp.text
    assert resp.json == {"accepted": 3}
    got = read_lines(es, f"{settings.log_index_prefix}-*", exe.cluster_id)
    assert [(d["message"], d["stream"], d["scale_order_num"], d["@timestamp"]) for d in got] == [
        ("hello", "stdout", 1, "2024-03-05T06:07:08.123456000Z"),
        ("", "stderr", 2, "2024-03-05T06:07:08.123456000Z"),
        ("given", "stdout", 99, "2024-03-05T06:07:09.000000001Z"),
    ]
    assert got[1]["scale_task"] == "t-1"
    assert {(d["scale_node"], d["scale_job_id"], d["scale_job_exe_num"]) for d in got} == {
        ("node-1", str(exe.job_id), "1")
    }
    assert {d["_index"] for d in got} == {f"{settings.log_index_prefix}-2024.03.05"}
    # The same body again: numbered lines are replays (409, nothing added); unnumbered ones get new numbers.
    assert post(client, auth, exe.id, body).json == {"accepted": 3}
    again = read_lines(es, f"{settings.log_index_prefix}-*", exe.cluster_id)
    assert sorted(d["scale_order_num"] for d in again) == [1, 2, 3, 4, 99]


def test_two_concurrent_posts_never_share_an_order_number(client, auth, es, settings, execution):
    exe = execution
    bodies = {
        name: ndjson(*({"message": f"{name} {i}", "stream": "stdout"} for i in range(400))) for name in ("a", "b")
    }
    results = {}
    start = threading.Barrier(2)

    def send(name):
        start.wait()
        results[name] = post(client, auth, exe.id, bodies[name])

    threads = [threading.Thread(target=send, args=(n,)) for n in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[n].status_code for n in "ab"] == [202, 202]
    got = read_lines(es, f"{settings.log_index_prefix}-*", exe.cluster_id)
    assert len(got) == 800
    assert sorted(d["scale_order_num"] for d in got) == list(range(1, 801))
    for name in "ab":  # each body got one block of numbers, in its own line order
        mine = sorted((d for d in got if d["message"].startswith(name)), key=lambda d: d["scale_order_num"])
        assert [d["message"] for d in mine] == [f"{name} {i}" for i in range(400)]
        numbers = [d["scale_order_num"] for d in mine]
        assert numbers == list(range(numbers[0], numbers[0] + 400))


def test_a_bad_line_is_named_and_nothing_is_written(client, auth, es, settings, execution):
    exe = execution
    body = (
        ndjson({"message": "fine", "stream": "stdout"}, {"message": "fine", "stream": "stdout"})
        + b'{"message": 5, "stream": "stdout"}\n'
        + ndjson({"message": "after", "stream": "stdout"})
    )
    resp = post(client, auth, exe.id, body)
    assert resp.status_code == 400
    assert resp.json["detail"] == 'Line 3: "message" must be a string'
    assert post(client, auth, exe.id, b"not json\n").json["detail"] == "Line 1: not a JSON object"
    assert read_lines(es, f"{settings.log_index_prefix}-*", exe.cluster_id) == []
    # The numbers were not used up by the refused bodies.
    assert post(client, auth, exe.id, ndjson({"message": "x", "stream": "stdout"})).status_code == 202
    assert [d["scale_order_num"] for d in read_lines(es, f"{settings.log_index_prefix}-*", exe.cluster_id)] == [1]


def test_unknown_execution_is_404_and_writes_need_the_token(client, auth, execution):
    body = ndjson({"message": "x", "stream": "stdout"})
    assert post(client, auth, 999999, body).status_code == 404
    exe = execution
    resp = client.simulate_post(f"/v6/job-executions/{exe.id}/logs/", body=body)
    assert resp.status_code == 401


def test_too_large_bodies_and_lines_are_413(make_client, auth, execution):
    exe = execution
    small = make_client(max_body_bytes=1000)
    resp = post(small, auth, exe.id, ndjson(*({"message": "y" * 50, "stream": "stdout"} for _ in range(30))))
    assert resp.status_code == 413 and "1000 bytes" in resp.json["detail"]
    short = make_client(max_log_line_bytes=10)
    resp = post(
        short, auth, exe.id, ndjson({"message": "ok", "stream": "stdout"}, {"message": "z" * 11, "stream": "stdout"})
    )
    assert resp.status_code == 413
    assert resp.json["detail"] == 'Line 2: "message" is longer than 10 bytes'


def test_the_route_is_in_the_openapi_document(client):
    doc = client.simulate_get("/v6/openapi.json").json
    op = doc["paths"]["/v6/job-executions/{exe_id}/logs/"]["post"]
    assert set(op["responses"]) >= {"202", "400", "404", "413"}
    assert "application/x-ndjson" in op["requestBody"]["content"]
    assert doc["components"]["schemas"]["PostedLogLine"]["required"] == ["message", "stream"]
