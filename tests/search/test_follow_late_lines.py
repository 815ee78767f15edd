"""Follows when lines arrive late: posted through the ingest route by two apps (two shippers), a line captured
earlier than lines the follower already sent must still come, exactly once, and a resume must neither repeat
nor lose one (search.follow). Against the real node; every wait polls with a deadline."""

from __future__ import annotations

import json
import threading
import time

from prometheus_client import REGISTRY

from search import Window
from search.follow import Followed, decode_token
from tests.search.helpers import NS
from tests.search.test_log_api import sse_events

MINUTE = 60 * NS


def post(client, auth, exe, lines: list[tuple[str, int]]) -> None:
    """(message, @timestamp ns) lines of exe through the ingest route; 202 once they are stored."""
    body = b"".join(
        json.dumps({"message": m, "stream": "stdout", "@timestamp": iso(ns)}).encode() + b"\n" for m, ns in lines
    )
    r = client.simulate_post(
        f"/v6/job-executions/{exe.id}/logs/", body=body, headers={**auth, "Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 202, r.text


def iso(ns: int) -> str:
    from core.times import format_ns

    return format_ns(ns)


def wait_for(condition, seconds: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def lines_of(items) -> list[str]:
    return [x.item.fields["message"] for x in items if isinstance(x, Followed)]


def test_execution_follow_sends_late_lines_once_in_arrival_order(make_client, auth, log_search, execution):
    shipper_a, shipper_b = make_client(), make_client()  # two apps: two shippers posting to one node
    t0 = time.time_ns() - 10 * MINUTE
    post(shipper_a, auth, execution, [("a1", t0 + MINUTE), ("a2", t0 + MINUTE + 1), ("a3", t0 + MINUTE + 2)])
    ended: dict = {"ago": None}
    got: list = []

    def follow() -> None:
        got.extend(log_search.follow(execution.cluster_id, Window(), None, lambda: ended["ago"], 120))

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    wait_for(lambda: lines_of(got) == ["a1", "a2", "a3"], what="the first lines")
    # Shipper B delivers lines captured a minute before those: far beyond any @timestamp window. Then each
    # shipper once more, B's line again the earliest of all.
    post(shipper_b, auth, execution, [("b1", t0), ("b2", t0 + 1), ("b3", t0 + 2)])
    post(shipper_a, auth, execution, [("a4", t0 + MINUTE + 3)])
    post(shipper_b, auth, execution, [("b4", t0 + 3)])
    wait_for(lambda: len(lines_of(got)) >= 8, what="the late lines")
    # Late lines come when they arrive, after what was already sent: arrival order, not @timestamp order.
    assert lines_of(got) == ["a1", "a2", "a3", "b1", "b2", "b3", "a4", "b4"]

    # A client that saw a2's event resumes with its id: after a line even earlier than every other one arrives.
    a2_token = next(x.token for x in got if isinstance(x, Followed) and x.item.fields["message"] == "a2")
    post(shipper_b, auth, execution, [("b5", t0 - 1)])
    ended["ago"] = 0.0  # the execution ends now: both follows read on for the grace and then end
    resumed = list(log_search.follow(execution.cluster_id, Window(), decode_token(a2_token), lambda: 0.0, 120))
    follower.join(timeout=60)
    assert not follower.is_alive()
    assert lines_of(got) == ["a1", "a2", "a3", "b1", "b2", "b3", "a4", "b4", "b5"] and got[-1] == "ended"
    assert lines_of(resumed) == ["a3", "b1", "b2", "b3", "a4", "b4", "b5"] and resumed[-1] == "ended"
    # Every event's token resumes exactly after it.
    followed = [x for x in got if isinstance(x, Followed)]
    for k in (0, 3, 6):
        rest = log_search.follow(execution.cluster_id, Window(), decode_token(followed[k].token), lambda: 60.0, 60)
        assert lines_of(rest) == lines_of(followed[k + 1 :])


def open_follows() -> float:
    return REGISTRY.get_sample_value("scale_http_long_reads", {"kind": "follow"}) or 0.0


def test_search_follow_streams_new_matches_of_every_execution_and_resumes_exactly(make_client, auth, start_execution):
    follower = make_client(follow_max_seconds=8.0)
    shipper_a, shipper_b = make_client(), make_client()
    one, two = start_execution(), start_execution()
    t0 = time.time_ns() - 10 * MINUTE
    post(shipper_a, auth, one, [("needle before the follow", t0 + 2 * MINUTE)])
    answers: list = []

    def follow(headers: dict) -> threading.Thread:
        before = open_follows()
        thread = threading.Thread(
            target=lambda: answers.append(
                follower.simulate_get(
                    "/v6/logs/",
                    params={"q": "needle", "follow": "true"},
                    headers={"Accept": "text/event-stream", **headers},
                )
            ),
            daemon=True,
        )
        thread.start()
        wait_for(lambda: open_follows() > before, what="the follow open")
        return thread

    first = follow({})
    post(shipper_a, auth, one, [("needle a1", t0 + 2 * MINUTE + 1), ("hay a2", t0 + 2 * MINUTE + 2)])
    post(shipper_b, auth, two, [("needle b1", t0), ("hay b2", t0 + 1)])  # a late shipper: 2 minutes earlier
    post(shipper_a, auth, two, [("needle a3", t0 + 2 * MINUTE + 3)])
    first.join(timeout=60)
    assert not first.is_alive()
    r = answers[0]
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[0]["data"] == "" and events[0]["id"]  # the start: an id only
    hits = [json.loads(e["data"]) for e in events if e["data"]]
    assert all(e["id"] for e in events) and "end" not in [e["event"] for e in events]  # the time limit: no end
    # Lines that arrived during the follow (all of them here, as the follow outlasted the posts by far more than
    # the settle time), in arrival order; hits shaped as /v6/logs/'s.
    assert [h["message"] for h in hits] == ["needle a1", "needle b1", "needle a3"]
    assert [h["job_id"] for h in hits] == [one.job_id, two.job_id, two.job_id]
    assert hits[0]["context_url"].endswith(
        f"/v6/job-executions/{one.id}/logs/combined/?around=2&context=20"
    )  # its line 1 came before
    assert "<em>needle</em>" in hits[0]["highlight"]

    # Resume from the first hit's event: the rest, and a line arriving meanwhile captured before all others.
    after_first = next(e["id"] for e in events if e["data"])
    post(shipper_b, auth, one, [("needle b3", t0 - MINUTE)])
    second = follow({"Last-Event-ID": after_first})
    second.join(timeout=60)
    assert not second.is_alive()
    resumed = [json.loads(e["data"])["message"] for e in sse_events(answers[1].text) if e["data"]]
    assert resumed == ["needle b1", "needle a3", "needle b3"]

    r = follower.simulate_get("/v6/logs/", params={"follow": "true"}, headers={"Last-Event-ID": "nonsense"})
    assert r.status_code == 400 and "Last-Event-ID" in r.json["detail"]
    r = follower.simulate_get("/v6/logs/", params={"follow": "true", "cursor": "*"})
    assert r.status_code == 400 and '"cursor"' in r.json["detail"]


def test_the_search_follow_is_in_the_openapi_document(client):
    op = client.simulate_get("/v6/openapi.json").json["paths"]["/v6/logs/"]["get"]
    follow = next(p for p in op["parameters"] if p["name"] == "follow")
    assert "true" in follow["schema"]["enum"] and "Last-Event-ID" in follow["description"]
    assert "text/event-stream" in op["responses"]["200"]["content"]
    assert "429" in op["responses"]


def test_a_search_follow_takes_a_long_read_slot(make_client):
    from tests.search.test_long_read_caps import Opened

    client = make_client(long_reads_per_client=1)
    held = Opened(client.app, "/v6/logs/", "q=needle&follow=true", "10.0.0.9")
    try:
        assert held.status == 200 and held.headers["content-type"] == "text/event-stream"
        refused = Opened(client.app, "/v6/logs/", "q=needle&follow=true", "10.0.0.9")
        assert refused.status == 429 and refused.json()["detail"].startswith("You already have 1 log follows")
        other = Opened(client.app, "/v6/logs/", "q=needle&follow=true", "10.0.0.10")
        assert other.status == 200  # another client's
        other.close()
    finally:
        held.close()
    again = Opened(client.app, "/v6/logs/", "q=needle&follow=true", "10.0.0.9")
    assert again.status == 200
    again.close()


def test_forged_or_misplaced_follow_tokens_are_400(client, execution):
    from search.follow import Position

    path = f"/v6/job-executions/{execution.id}/logs/combined/"
    token = Position(1, caught_up=True).token()
    for bad in ("F" + "x" * 10, token[:-3], "F" + "W1tdXQ"):  # not base64 JSON, cut short, a wrong shape
        r = client.simulate_get(path, params={"follow": "true"}, headers={"Last-Event-ID": bad})
        assert r.status_code == 400 and r.json["detail"] == "Invalid cursor for parameter: Last-Event-ID", bad
    # A follow's token is no page cursor, and a search follow takes only a search follow's.
    r = client.simulate_get(path, params={"limit": "5", "after": token})
    assert r.status_code == 400 and r.json["detail"] == "Invalid cursor for parameter: after"
    catching_up = Position(1).token()
    r = client.simulate_get("/v6/logs/", params={"follow": "true"}, headers={"Last-Event-ID": catching_up})
    assert r.status_code == 400 and "Last-Event-ID" in r.json["detail"]
