"""POST /v6/job-executions/{id}/logs/: NDJSON lines from remote executors."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from jobs.stores import Stores
from tests.factories import manifest
from tests.ingest.reading import read_lines
from tests.jobs.conftest import FrozenClock


def ndjson(*items) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


def post(client, auth, exe_id, body: bytes, **kw):
    return client.simulate_post(
        f"/v6/job-executions/{exe_id}/logs/", body=body, headers={**auth, "Content-Type": "application/x-ndjson"}, **kw
    )


def started_on(sql_settings, clock):
    """A RUNNING execution on node-1 that the service registered at clock()."""
    stores = Stores.open(sql_settings.database_url, clock)
    try:
        job_type, _ = stores.job_types.save_job_type("img:1", manifest("log-test", command="run"))
        return stores.executions.start_execution(stores.jobs.create_job(job_type.id, {}), "node-1")
    finally:
        stores.close()


def ended_on(sql_settings, clock, exe_id: int) -> None:
    stores = Stores.open(sql_settings.database_url, clock)
    try:
        stores.executions.finish_execution(exe_id, "COMPLETED")
    finally:
        stores.close()


def test_posted_lines_are_numbered_stamped_and_stored(make_client, auth, es, settings, sql_settings):
    frozen = FrozenClock(datetime(2024, 3, 5, 6, 7, 8, 123456, tzinfo=UTC))
    exe = started_on(sql_settings, frozen)
    client = make_client(clock=frozen)
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


def test_an_executor_cannot_pick_the_day_of_its_lines_nor_write_to_a_closed_log(
    make_client, auth, es, settings, sql_settings
):
    """A line's @timestamp picks its daily index: an executor may only stamp lines within the execution's life as
    the service saw it (registered .. ended, or now), 300 s of clock skew either side; an ended execution takes
    lines for LOG_GRACE_SECONDS (300 s), then its log is closed (409)."""
    t0 = datetime(2024, 3, 5, 6, 7, 8, tzinfo=UTC)
    clock = FrozenClock(t0)
    exe = started_on(sql_settings, clock)
    client = make_client(clock=clock)
    clock.advance(hours=1)

    def stamped(*moments: datetime):
        lines = [{"message": f"m{i}", "stream": "stdout", "@timestamp": m.isoformat()} for i, m in enumerate(moments)]
        return post(client, auth, exe.id, ndjson(*lines))

    # One body naming many days (each would be a new index), a pruned past, the far future: refused whole.
    days = [datetime(2031, 3, 1, tzinfo=UTC) + timedelta(days=d) for d in range(200)]
    for moments in (days, [datetime(1999, 1, 1, tzinfo=UTC)], [t0 + timedelta(hours=1, seconds=301)]):
        r = stamped(t0, *moments)
        assert r.status_code == 400, r.text
        assert r.json["detail"].startswith(f'Line 2: "@timestamp" {moments[0].strftime("%Y-%m-%dT%H:%M:%S")}')
        assert "between 2024-03-05T06:02:08.000000000Z and 2024-03-05T07:12:08.000000000Z" in r.json["detail"]
    assert not es.indices.exists(index=f"{settings.log_index_prefix}-2031.03.01")
    assert read_lines(es, f"{settings.log_index_prefix}-*", exe.cluster_id) == []
    # Within the skew of either end: taken.
    assert stamped(t0 - timedelta(seconds=300), t0 + timedelta(hours=1, seconds=300)).status_code == 202
    # Ended at t0 + 2 h: lines stamped after end + skew are refused, the rest taken for the grace period.
    clock.advance(hours=1)
    ended_on(sql_settings, clock, exe.id)
    clock.advance(seconds=300)
    assert stamped(t0 + timedelta(hours=2, seconds=301)).status_code == 400
    assert stamped(t0 + timedelta(hours=2)).status_code == 202
    assert post(client, auth, exe.id, ndjson({"message": "late", "stream": "stdout"})).status_code == 202
    clock.advance(seconds=1)
    r = post(client, auth, exe.id, ndjson({"message": "too late", "stream": "stdout"}))
    assert r.status_code == 409
    assert r.json["detail"] == (
        f"Job execution {exe.id} ended at 2024-03-05T08:07:08Z; its log took lines until 300 s after that "
        "(LOG_GRACE_SECONDS) and is now closed"
    )
    got = read_lines(es, f"{settings.log_index_prefix}-*", exe.cluster_id)
    assert [d["message"] for d in got] == ["m0", "m1", "m0", "late"]
    assert {d["_index"] for d in got} == {f"{settings.log_index_prefix}-2024.03.05"}


def test_retention_bounds_the_oldest_stamp(make_client, auth, es, settings, sql_settings):
    """A long-running execution can't stamp lines into a day retention already deleted."""
    t0 = datetime(2024, 3, 5, 6, 7, 8, tzinfo=UTC)
    clock = FrozenClock(t0)
    exe = started_on(sql_settings, clock)
    clock.advance(days=10)
    client = make_client(clock=clock, log_retention_days=7)
    line = {"message": "old", "stream": "stdout", "@timestamp": "2024-03-07T23:59:59Z"}
    r = post(client, auth, exe.id, ndjson(line))
    assert r.status_code == 400 and "between 2024-03-08T00:00:00.000000000Z and" in r.json["detail"]
    assert post(client, auth, exe.id, ndjson({**line, "@timestamp": "2024-03-08T00:00:00Z"})).status_code == 202
