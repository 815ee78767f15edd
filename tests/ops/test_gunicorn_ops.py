"""Operations through the production gunicorn configuration, 2 workers: /metrics adds up every worker
(multiprocess mode), a worker's live gauges go when it exits while its counts stay; the request log is one
JSON line per request with no secret in it; and a normal stop or a reload (SIGHUP) ships every spooled line
before the workers exit: nothing is left in the spool and each line is in Elasticsearch exactly once."""

from __future__ import annotations

import http.client
import json
import os
import signal
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.conftest import ADMIN_TOKEN
from tests.ingest.reading import read_lines
from tests.ops.scrape import samples, total, value
from tests.proxy import Relay
from tests.reliability.harness import LOOPBACK, Gunicorn, ndjson, pid_serving, wait_until
from tests.reliability.seed import seed_jobs

SECRETS = ("cookie-secret-42", "hunter2-password", "query-token-77", "reader-secret-9-0123456789abcdefgh")


@pytest.fixture
def relay(elasticsearch_url):
    r = Relay(elasticsearch_url)
    yield r
    r.close()


def start(settings, data_dir: Path, elasticsearch_url: str, **env) -> Gunicorn:
    return Gunicorn(
        data_dir,
        settings.database_url,
        elasticsearch_url,
        settings.log_index_prefix,
        ADMIN_TOKEN,
        workers=2,
        extra_env=env,
    ).start()


@pytest.fixture
def server(settings, tmp_path):
    g = start(settings, tmp_path / "api", settings.elasticsearch_url, READ_TOKEN="reader-secret-9-0123456789abcdefgh")
    yield g
    g.stop()


def scrape(server: Gunicorn) -> dict:
    answer = server.client(token="reader-secret-9-0123456789abcdefgh").get("/metrics")
    assert answer.status == 200, answer.body
    return samples(answer.body.decode())


def test_metrics_add_up_every_worker(server):
    served_by: set[int] = set()
    for _ in range(40):  # fresh connections, so both workers serve some
        http = server.client(token="reader-secret-9-0123456789abcdefgh")
        assert http.get("/v6/jobs/424242/").status == 404
        served_by.add(pid_serving(http._conn.sock.getsockname()[1], server.worker_pids()))
        http.close()
    assert served_by == set(server.worker_pids()), "one worker served every request"
    route = {"method": "GET", "route": "/v6/jobs/{job_id}/", "status": "404"}
    for _ in range(6):  # whichever worker answers the scrape, it reports both workers' counts
        assert value(scrape(server), "scale_http_requests_total", **route) == 40
    metrics_dir = server.data_dir / "metrics"
    gone = server.worker_pids()[0]
    os.kill(gone, signal.SIGTERM)
    wait_until(
        lambda: gone not in server.worker_pids() and len(server.worker_pids()) == 2,
        30,
        what="the master replacing the stopped worker",
    )
    assert (metrics_dir / f"counter_{gone}.db").exists()  # its counts still count
    assert not list(metrics_dir.glob(f"gauge_live*_{gone}.db"))  # its live gauges (spool, running) do not
    assert value(scrape(server), "scale_http_requests_total", **route) == 40


def test_the_request_log_is_json_lines_without_secrets(server):
    http = server.client()
    answers = [
        http.get(
            "/v6/jobs/?token=query-token-77&password=hunter2-password",
            headers={"Cookie": "session=cookie-secret-42", "X-Request-ID": "gunicorn-1"},
            token="reader-secret-9-0123456789abcdefgh",
        ),
        http.post(
            "/v6/jobs/",
            {"job_type_id": 1, "input": {"json": {"password": "hunter2-password"}}},
            headers={"X-Request-ID": "gunicorn-2", "Cookie": "session=cookie-secret-42"},
            token=ADMIN_TOKEN,
        ),
        http.get("/v6/jobs/", headers={"X-Request-ID": "gunicorn-3"}, token="wrong-token"),
    ]
    assert [a.status for a in answers] == [200, 404, 403]  # job type 1 does not exist
    assert answers[1].json["request_id"] == "gunicorn-2" and answers[1].headers["x-request-id"] == "gunicorn-2"
    server.stop()  # everything is written and flushed
    text = (server.data_dir / f"gunicorn-{server.port}.log").read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = {line["request_id"]: line for line in lines if line.get("logger") == "api.requests"}
    assert {k: requests["gunicorn-1"][k] for k in ("method", "route", "status", "user")} == {
        "method": "GET",
        "route": "/v6/jobs/",
        "status": 200,
        "user": "reader",
    }
    assert (requests["gunicorn-2"]["status"], requests["gunicorn-2"]["user"]) == (404, "admin")
    assert (requests["gunicorn-3"]["status"], requests["gunicorn-3"]["user"]) == (403, None)
    for secret in SECRETS + (ADMIN_TOKEN, "wrong-token"):
        assert secret not in text, secret


# RESTORED_AT_ONCE: the stop or reload is sent right after the relay lets the node through again, with nothing in
# between. A worker that got its first line late in post_while_unreachable is still in a short backoff (0.25 s,
# doubling, jittered), and its retry may fall a moment after the restore: it then ships its lines itself, as it
# should. These tests checked "still every line spooled" with a /metrics scrape after the restore: such a retry
# landing before that scrape failed the test though nothing was wrong (the likely cause of a failure seen once
# under load, where the scrape is slow; not reproduced).
# That every line was spooled is asserted by post_while_unreachable while the node is unreachable, where no retry
# can succeed; the window left between restore() and the signal is two Python statements.
# A reload under load: the old workers ship (up to gunicorn.conf's SHIP_ON_EXIT_SECONDS) and exit while the new
# ones boot; a deadline, not a wait.
RELOAD_SECONDS = 90


def spool_segments(spool: Path) -> list[Path]:
    return sorted(spool.glob("*.spool")) if spool.is_dir() else []


def post_while_unreachable(server: Gunicorn, relay: Relay, exe, batches: int) -> list[str]:
    """Post batches over fresh connections until both workers hold spooled lines; the messages posted."""
    relay.cut()
    sent: list[str] = []
    spool = server.data_dir / "spool"
    for batch in range(1, 4 * batches):
        messages = [f"held e{exe.id} b{batch} l{i}" for i in range(25)]
        http = server.client(token=ADMIN_TOKEN)
        answer = http.post(
            f"/v6/job-executions/{exe.id}/logs/",
            ndjson([{"message": m, "stream": "stdout"} for m in messages]),
            headers={"Content-Type": "application/x-ndjson"},
        )
        http.close()
        assert answer.status == 202 and answer.json == {"accepted": 25}, answer.body
        sent += messages
        writers = {int(p.name.split("-")[1]) for p in spool_segments(spool) if p.stat().st_size}
        if batch >= batches and writers == set(server.worker_pids()):
            break
    assert {int(p.name.split("-")[1]) for p in spool_segments(spool)} == set(server.worker_pids()), (
        "both workers should hold spooled lines"
    )
    # Every worker's backlog adds up, in the metrics and in readiness (503 here: the node is unreachable).
    assert total(scrape(server), "scale_log_spool_lines") == len(sent)
    ready = server.client(token="reader-secret-9-0123456789abcdefgh").get("/readyz")
    assert ready.status == 503 and ready.json["spool"]["lines"] == len(sent), ready.body
    return sent


def assert_stored_once(es: Elasticsearch, prefix: str, exe, sent: list[str]) -> None:
    got = [d["message"] for d in read_lines(es, f"{prefix}-*", exe.cluster_id)]
    assert sorted(got) == sorted(sent), f"{len(got)} stored, {len(sent)} sent, {len(set(got))} distinct"


@pytest.mark.slow
def test_a_normal_stop_ships_every_spooled_line(settings, stores, es, relay, tmp_path):
    exe = seed_jobs(stores, types=1, jobs=1, running=1, finished=0).running[0]
    server = start(
        settings,
        tmp_path / "api",
        relay.url,
        ELASTICSEARCH_TIMEOUT="1",
        READ_TOKEN="reader-secret-9-0123456789abcdefgh",
    )
    try:
        sent = post_while_unreachable(server, relay, exe, batches=8)  # every line spooled, the node unreachable
        # The node is back and the stop follows at once: what the stop ships, the stop ships (see RESTORED_AT_ONCE).
        relay.restore()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=40) == 0, server.log_tail()
    finally:
        server.stop()
    assert spool_segments(tmp_path / "api" / "spool") == []
    assert_stored_once(es, settings.log_index_prefix, exe, sent)


@pytest.mark.slow
def test_a_reload_ships_what_the_old_workers_spooled(settings, stores, es, relay, tmp_path):
    exe = seed_jobs(stores, types=1, jobs=1, running=1, finished=0).running[0]
    server = start(
        settings,
        tmp_path / "api",
        relay.url,
        ELASTICSEARCH_TIMEOUT="1",
        READ_TOKEN="reader-secret-9-0123456789abcdefgh",
    )
    spool = tmp_path / "api" / "spool"
    try:
        sent = post_while_unreachable(server, relay, exe, batches=8)  # every line spooled, the node unreachable
        old = set(server.worker_pids())
        # The node is back and the reload follows at once (see RESTORED_AT_ONCE).
        relay.restore()
        os.kill(server.master, signal.SIGHUP)
        wait_until(
            lambda: not old & set(server.worker_pids()) and len(server.worker_pids()) == 2,
            RELOAD_SECONDS,
            what="the reload replacing both workers",
        )
        # At once, not after the new workers' next look for orphaned segments (every 30 s): the old workers
        # shipped their lines themselves before exiting.
        assert [p for p in spool_segments(spool) if int(p.name.split("-")[1]) in old] == []
        assert_stored_once(es, settings.log_index_prefix, exe, sent)
        assert server.client(token="reader-secret-9-0123456789abcdefgh").get("/v6/jobs/").status == 200
    finally:
        server.stop()
    assert spool_segments(spool) == []


def test_a_stop_ends_an_open_follow_cleanly_instead_of_waiting_to_kill_it(settings, execution, tmp_path):
    """SIGTERM while a follow is open (FOLLOW_MAX_SECONDS 600): the follow's response ends complete, its chunked
    body closed after the opening block, and the server exits 0. Before, the worker waited for the follow until
    graceful_timeout (30 s), then was killed mid-response: the client read an incomplete body."""
    g = start(settings, tmp_path / "api", settings.elasticsearch_url, FOLLOW_MAX_SECONDS="600")
    try:
        conn = http.client.HTTPConnection(LOOPBACK, g.port, timeout=60)
        conn.request(
            "GET",
            f"/v6/job-executions/{execution.id}/logs/combined/?follow=true",
            headers={"Accept": "text/event-stream", "Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        answer = conn.getresponse()
        assert answer.status == 200 and answer.getheader("Content-Type").startswith("text/event-stream")
        opening = answer.read1()
        g.proc.send_signal(signal.SIGTERM)
        body = opening + answer.read()  # http.client raises IncompleteRead for a response cut off
        # The opening block, and no `end` event: the execution goes on, so the client reconnects and resumes.
        assert body == b"retry: 2000\n\n"
        assert g.proc.wait(timeout=60) == 0
    finally:
        g.stop()
