"""Caps on follows and whole-log streams (api/logs/long_reads.py): the app is called as a WSGI server calls it, and
the bodies it returns are held open without being read, as a slow client holds them; past the per-client or the
per-worker cap a long read is 429 with Retry-After, short routes keep answering, and closing a body frees its
slot."""

from __future__ import annotations

import json

from falcon import testing

from tests.ops.scrape import value
from tests.search.helpers import BASE_NS, index_ours, our_doc


class Opened:
    """One WSGI call whose body is left open, as a server holds it for a client that reads slowly."""

    def __init__(self, app, path: str, query: str, address: str, method: str = "GET"):
        environ = testing.create_environ(path=path, query_string=query, remote_addr=address, method=method)
        self.headers: dict[str, str] = {}

        def start_response(status, headers, exc_info=None):
            self.status = int(status.split()[0])
            self.headers = {k.lower(): v for k, v in headers}

        self.body = app(environ, start_response)

    def text(self) -> str:
        return b"".join(self.body).decode()

    def json(self) -> dict:
        return json.loads(self.text())

    def close(self) -> None:
        close = getattr(self.body, "close", None)
        if close:
            close()


def metrics_of(client) -> str:
    return client.simulate_get("/metrics").text


def test_follows_past_the_caps_are_429_while_short_routes_answer(make_client, execution, es, log_prefix):
    client = make_client(long_reads_per_client=2, long_reads_per_worker=3)
    app = client.app
    path = f"/v6/job-executions/{execution.id}/logs/combined/"
    before = metrics_of(client)
    open_before = value(before, "scale_http_long_reads", kind="follow")
    a1 = Opened(app, path, "follow=true", "10.0.0.1")
    a2 = Opened(app, path, "follow=true", "10.0.0.1")
    assert (a1.status, a2.status) == (200, 200)
    # The client's third is refused by the per-client cap.
    a3 = Opened(app, path, "follow=true", "10.0.0.1")
    assert a3.status == 429 and a3.headers["retry-after"] == "10"
    assert a3.json()["detail"] == (
        "You already have 2 log follows and streams open (the client cap); try again in 10 seconds, "
        "or read pages (limit, tail) instead of following or streaming the whole log."
    )
    b1 = Opened(app, path, "follow=true", "10.0.0.2")
    assert b1.status == 200
    # The worker's fourth, from anyone, is refused by the per-worker cap.
    c1 = Opened(app, path, "follow=true", "10.0.0.3")
    assert c1.status == 429
    assert c1.json()["detail"].startswith("This server already runs 3 log follows and streams (the worker cap)")
    # Short routes still answer while every long-read slot is taken, and HEAD is not a long read.
    assert client.simulate_get("/v6/jobs/").status_code == 200
    assert client.simulate_get(path, params={"limit": "5"}).status_code == 204
    assert client.simulate_head(path, params={"follow": "true"}).status_code == 200
    # /metrics shows the open reads, the refusals by cap, and the caps themselves.
    now = metrics_of(client)
    assert value(now, "scale_http_long_reads", kind="follow") == open_before + 3
    for cap in ("client", "worker"):
        refused = value(now, "scale_http_long_reads_refused_total", kind="follow", cap=cap)
        assert refused == value(before, "scale_http_long_reads_refused_total", kind="follow", cap=cap) + 1
    assert value(now, "scale_http_long_reads_limit", cap="client") == 2
    assert value(now, "scale_http_long_reads_limit", cap="worker") == 3
    # Closing a body (the client went away, or the follow ended) gives its slot back.
    a1.close()
    a1.close()  # twice is harmless
    again = Opened(app, path, "follow=true", "10.0.0.1")
    assert again.status == 200
    for held in (a2, b1, again):
        held.close()
    assert value(metrics_of(client), "scale_http_long_reads", kind="follow") == open_before


def test_whole_log_streams_count_and_end_by_themselves(make_client, execution, es, log_prefix):
    index_ours(es, log_prefix, [our_doc(execution.cluster_id, BASE_NS + i, i + 1, f"line {i}") for i in range(3)])
    client = make_client(long_reads_per_client=1, long_reads_per_worker=8)
    app = client.app
    path = f"/v6/job-executions/{execution.id}/logs/combined/"
    held = Opened(app, path, "format=txt", "10.0.0.9")
    assert held.status == 200
    r = client.simulate_get(path, params={"format": "txt"}, remote_addr="10.0.0.9")
    assert r.status_code == 429 and r.headers["Retry-After"] == "10"
    assert held.text().splitlines() == ["line 0", "line 1", "line 2"]
    held.close()
    # A stream read to its end (the test client closes it, as a server does) leaves nothing held.
    for _ in range(3):
        r = client.simulate_get(path, params={"format": "txt"}, remote_addr="10.0.0.9")
        assert r.status_code == 200 and r.text.splitlines() == ["line 0", "line 1", "line 2"]


def test_an_export_takes_a_slot_of_the_same_caps(make_client, execution, es, log_prefix):
    """An export streams every match as long as a whole-log read does: it counts against the same caps, so follows
    and exports together can never take every thread."""
    index_ours(es, log_prefix, [our_doc(execution.cluster_id, BASE_NS + i, i + 1, f"line {i}") for i in range(3)])
    client = make_client(long_reads_per_client=1, long_reads_per_worker=8)
    app = client.app
    held = Opened(app, "/v6/logs/export/", "format=txt", "10.0.0.7")
    assert held.status == 200
    follow = Opened(app, f"/v6/job-executions/{execution.id}/logs/combined/", "follow=true", "10.0.0.7")
    assert follow.status == 429 and follow.headers["retry-after"] == "10"
    again = client.simulate_get("/v6/logs/export/", params={"format": "txt"}, remote_addr="10.0.0.7")
    assert again.status_code == 429 and again.json["detail"].startswith("You already have 1 log follows")
    assert held.text().splitlines() == ["line 0", "line 1", "line 2"]
    held.close()
    r = client.simulate_get("/v6/logs/export/", params={"format": "txt"}, remote_addr="10.0.0.7")
    assert r.status_code == 200 and r.text.splitlines() == ["line 0", "line 1", "line 2"]


def test_the_caps_are_settings_that_leave_threads_to_short_routes(tmp_path):
    from settings import ConfigurationError, Settings

    env = {"DATA_DIR": str(tmp_path), "API_TOKEN": "t" * 32}
    defaults = Settings.from_env(env)
    assert (defaults.long_reads_per_client, defaults.long_reads_per_worker) == (4, 8)
    changed = Settings.from_env({**env, "LONG_READS_PER_CLIENT": "2", "LONG_READS_PER_WORKER": "15"})
    assert (changed.long_reads_per_client, changed.long_reads_per_worker) == (2, 15)
    for name, raw, message in (
        ("LONG_READS_PER_WORKER", "16", "LONG_READS_PER_WORKER must be below 16"),
        ("LONG_READS_PER_CLIENT", "0", "LONG_READS_PER_CLIENT must be at least 1"),
    ):
        try:
            Settings.from_env({**env, name: raw})
        except ConfigurationError as exc:
            assert str(exc).startswith(message)
        else:
            raise AssertionError(f"{name}={raw} was accepted")
