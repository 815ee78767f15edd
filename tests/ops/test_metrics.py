"""/metrics in one process: scraped and parsed as Prometheus does, each counter moves when its event happens
(requests by route template, 503s, Elasticsearch and database errors, log lines, the spool, jobs by status,
the local worker), and READ_TOKEN protects it. Counters are process-wide, so every check is a difference."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from elasticsearch import Elasticsearch

from api.jobs.lease_expiry import LeaseExpiry
from core import metrics
from core.times import utcnow
from ingest.documents import CapturedLine, Origin, bulk_pairs
from ingest.shipper import Shipper
from jobs.stores import Stores
from tests.conftest import ADMIN_TOKEN
from tests.factories import manifest
from tests.ingest.conftest import queue_job
from tests.jobs.conftest import FrozenClock
from tests.ops.scrape import samples, total, value
from worker.runner import Worker

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "http://127.0.0.1:9"


def scrape(client, **headers) -> dict:
    resp = client.simulate_get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(resp.text)


def ndjson(messages: list[str]) -> bytes:
    return b"".join(json.dumps({"message": m, "stream": "stdout"}).encode() + b"\n" for m in messages)


def test_requests_are_counted_by_route_template_and_status(client, auth):
    before = scrape(client)
    for job_id in (1, 2, 3):  # three raw paths, one route
        assert client.simulate_get(f"/v6/jobs/{job_id}/").status_code == 404
    assert client.simulate_get("/v7/jobs/").status_code == 200  # the alias counts under the v6 route
    assert client.simulate_get("/v6/nothing/").status_code == 404
    after = scrape(client)
    details = {"method": "GET", "route": "/v6/jobs/{job_id}/", "status": "404"}
    assert (
        value(after, "scale_http_requests_total", **details) - value(before, "scale_http_requests_total", **details)
        == 3
    )
    listing = {"method": "GET", "route": "/v6/jobs/", "status": "200"}
    assert (
        value(after, "scale_http_requests_total", **listing) - value(before, "scale_http_requests_total", **listing)
        == 1
    )
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert (
        value(after, "scale_http_requests_total", **unmatched) - value(before, "scale_http_requests_total", **unmatched)
        == 1
    )
    assert not any(n == "scale_http_requests_total" and ("route", "/v6/jobs/1/") in labels for n, labels in after)
    # The latency histogram saw the same three requests, in its buckets too.
    route = {"method": "GET", "route": "/v6/jobs/{job_id}/"}
    counted = value(after, "scale_http_request_duration_seconds_count", **route) - value(
        before, "scale_http_request_duration_seconds_count", **route
    )
    assert counted == 3
    inf = {**route, "le": "+Inf"}
    assert (
        value(after, "scale_http_request_duration_seconds_bucket", **inf)
        - value(before, "scale_http_request_duration_seconds_bucket", **inf)
        == 3
    )
    assert value(after, "scale_http_request_duration_seconds_sum", **route) > value(
        before, "scale_http_request_duration_seconds_sum", **route
    )


def test_read_token_protects_metrics(make_client, auth):
    client = make_client(read_token="reader-secret")
    assert client.simulate_get("/metrics").status_code == 401
    assert client.simulate_get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    scrape(client, Authorization="Bearer reader-secret")
    scrape(client, **auth)


def test_elasticsearch_down_counts_503s_and_elasticsearch_errors(make_client, execution):
    client = make_client(elasticsearch_url=UNREACHABLE)
    before = scrape(client)
    assert client.simulate_get(f"/v6/job-executions/{execution.id}/logs/combined/").status_code == 503
    assert client.simulate_get("/readyz").status_code == 503
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("scale_http_unavailable_total", reason="elasticsearch") == 1
    assert moved("scale_http_unavailable_total", reason="readiness") == 1
    assert moved("scale_elasticsearch_errors_total", component="search") >= 1
    assert moved("scale_elasticsearch_errors_total", component="readiness") == 1
    route = "/v6/job-executions/{exe_id}/logs/{stream}/"
    assert moved("scale_http_requests_total", method="GET", route=route, status="503") == 1


def test_database_down_counts_database_errors(make_client, tmp_path):
    client = make_client(database_url=f"sqlite:///{tmp_path}/no-such-dir/scale.db")
    before = scrape(client)
    resp = client.simulate_get("/readyz")
    assert resp.status_code == 503 and resp.json["database"].startswith("unavailable")
    assert client.simulate_get("/v6/jobs/").status_code == 503
    after = scrape(client)
    assert (
        value(after, "scale_database_errors_total", component="readiness")
        - value(before, "scale_database_errors_total", component="readiness")
        == 1
    )
    assert (
        value(after, "scale_database_errors_total", component="api")
        - value(before, "scale_database_errors_total", component="api")
        == 1
    )
    assert (
        value(after, "scale_http_unavailable_total", reason="database")
        - value(before, "scale_http_unavailable_total", reason="database")
        == 1
    )
    # jobs by status can't be read: the rest of the scrape is still served
    assert not any(name == "scale_jobs" for name, _ in after)


def test_posted_lines_are_counted_accepted_and_stored(client, auth, execution):
    before = scrape(client)
    resp = client.simulate_post(
        f"/v6/job-executions/{execution.id}/logs/",
        body=ndjson([f"m{i}" for i in range(7)]),
        headers={**auth, "Content-Type": "application/x-ndjson"},
    )
    assert resp.status_code == 202 and resp.json == {"accepted": 7}
    after = scrape(client)
    assert value(after, "scale_log_lines_accepted_total") - value(before, "scale_log_lines_accepted_total") == 7
    # A 202 waits for Elasticsearch while it answers: the lines are stored, not only spooled.
    assert value(after, "scale_log_lines_stored_total") - value(before, "scale_log_lines_stored_total") == 7


def test_spool_gauges_follow_the_backlog_and_retries_are_counted(settings, tmp_path):
    shipper = Shipper(
        Elasticsearch(UNREACHABLE, request_timeout=2, max_retries=0),
        settings.log_index_prefix,
        tmp_path / "spool",
        backoff=(0.05, 0.2),
    )
    before = samples(metrics.exposition().decode())
    origin = Origin(cluster_id="scale_job_1x1")
    lines = [CapturedLine(f"spooled {i}", "stdout", time.time_ns(), i + 1) for i in range(5)]
    pairs, ids = bulk_pairs(settings.log_index_prefix, origin, lines)
    spooled_at = time.time()
    shipper.submit(pairs, ids)
    deadline = time.monotonic() + 10
    while shipper.last_failure is None and time.monotonic() < deadline:
        time.sleep(0.05)
    during = samples(metrics.exposition().decode())
    assert value(during, "scale_log_spool_lines") - value(before, "scale_log_spool_lines") == 5
    size = sum(len(a) + len(s) + 2 for a, s in pairs)
    assert value(during, "scale_log_spool_bytes") - value(before, "scale_log_spool_bytes") == size
    oldest = value(during, "scale_log_spool_oldest_pending_timestamp_seconds")
    assert spooled_at - 1 <= oldest <= time.time()
    assert value(during, "scale_log_spool_oldest_pending_age_seconds") >= 0
    assert value(during, "scale_log_shipper_retries_total") > value(before, "scale_log_shipper_retries_total")
    assert value(during, "scale_elasticsearch_errors_total", component="shipper") > value(
        before, "scale_elasticsearch_errors_total", component="shipper"
    )
    assert value(during, "scale_log_shipper_last_failure_timestamp_seconds") >= spooled_at - 1
    backlog = shipper.backlog()
    assert (backlog.lines, backlog.bytes) == (5, size) and backlog.age() >= 0
    shipper.close(timeout=0.5)  # the lines stay on disk for the next process: this one no longer counts them
    after = samples(metrics.exposition().decode())
    assert value(after, "scale_log_spool_lines") == value(before, "scale_log_spool_lines")
    assert value(after, "scale_log_spool_bytes") == value(before, "scale_log_spool_bytes")
    assert math.isinf(value(after, "scale_log_spool_oldest_pending_timestamp_seconds"))


def test_jobs_by_status_come_from_the_job_counters(client, stores):
    for _ in range(3):
        queue_job(stores, manifest("counted"))
    counted = scrape(client)
    statuses = {dict(labels)["status"]: v for (name, labels), v in counted.items() if name == "scale_jobs"}
    assert statuses["QUEUED"] == 3
    assert statuses["RUNNING"] == statuses["COMPLETED"] == statuses["CANCELED"] == 0
    assert set(statuses) == {"PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED"}


def test_worker_claims_runs_timeouts_and_recoveries_are_counted(stores, shipper_for_worker):
    names = ("scale_worker_claims_total", "scale_worker_timeouts_total", "scale_worker_node_lost_recoveries_total")
    before = samples(metrics.exposition().decode())
    queue_job(stores, manifest(command=f"{sys.executable} -c print(1)"))
    queue_job(stores, manifest("slow", command=f'{sys.executable} -c "import time; time.sleep(30)"', timeout=1))
    worker = Worker(stores.executions, shipper_for_worker, "node-m")
    worker.run_forever(once=True)
    worker.run_forever(once=True)
    # A worker that died on node-x left its execution RUNNING: the next one on node-x fails it at start.
    queue_job(stores, manifest("orphan"))
    assert stores.executions.claim_next_queued("node-x", 60) is not None
    assert Worker(stores.executions, shipper_for_worker, "node-x").recover() == 1
    after = samples(metrics.exposition().decode())
    moved = {name: value(after, name) - value(before, name) for name in names}
    assert moved == {
        "scale_worker_claims_total": 2,
        "scale_worker_timeouts_total": 1,
        "scale_worker_node_lost_recoveries_total": 1,
    }
    assert (
        value(after, "scale_worker_runs_total", status="COMPLETED")
        - value(before, "scale_worker_runs_total", status="COMPLETED")
        == 1
    )
    assert (
        value(after, "scale_worker_runs_total", status="FAILED")
        - value(before, "scale_worker_runs_total", status="FAILED")
        == 1
    )
    assert value(after, "scale_worker_running") == value(before, "scale_worker_running")


def test_expired_leases_are_counted(sql_settings, shipper_for_worker):
    # Leases run on the stores' clock: this one is moved past the lease instead of waiting for it.
    clock = FrozenClock(utcnow())
    stores = Stores.open(sql_settings.database_url, clock)
    try:
        queue_job(stores, manifest("leased"))
        assert stores.executions.claim_next_queued("node-gone", 30) is not None
        expiry = LeaseExpiry(stores.executions, stores.task_claims, lease_seconds=30)  # the API's, not started
        assert expiry.run_once() == 0  # not yet
        clock.advance(seconds=31)
        before = samples(metrics.exposition().decode())
        assert expiry.run_once() == 1
    finally:
        stores.close()
    after = samples(metrics.exposition().decode())
    assert value(after, "scale_worker_lease_expiries_total") - value(before, "scale_worker_lease_expiries_total") == 1


def test_the_local_worker_serves_its_metrics(settings, stores, executor_api, tmp_path):
    from tests.reliability.harness import free_port, wait_until

    queue_job(stores, manifest(command=f"{sys.executable} -c print(2)"))
    port = free_port()
    api = executor_api("metrics-node")
    env = api.env(SPOOL_DIR=str(tmp_path / "worker-spool"), WORKER_METRICS_PORT=str(port))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        api.argv("--poll", "0.2"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import httpx

        def completed() -> float:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.TransportError:
                return 0
            return value(text, "scale_worker_runs_total", status="COMPLETED")

        assert wait_until(completed, 60, 0.2, "the worker's /metrics counting its run") == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_ingest_ship_writes_its_metrics(settings, execution, tmp_path):
    out = tmp_path / "ship.prom"
    env = dict(
        os.environ,
        DATA_DIR=str(tmp_path),
        DATABASE_URL=settings.database_url,
        API_TOKEN=ADMIN_TOKEN,
        ELASTICSEARCH_URL=settings.elasticsearch_url,
        LOG_INDEX_PREFIX=settings.log_index_prefix,
        SPOOL_DIR=str(tmp_path / "ship-spool"),
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "ship", "--exe", str(execution.id), "--metrics-file", str(out), "-"],
        input=b"one\ntwo\nthree\n",
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert value(text, "scale_log_lines_accepted_total") == 3
    assert value(text, "scale_log_lines_stored_total") == 3
    assert value(text, "scale_log_spool_lines") == 0
    assert total(text, "scale_elasticsearch_errors_total") == 0
