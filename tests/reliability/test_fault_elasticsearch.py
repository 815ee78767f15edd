"""Elasticsearch stopped and restarted while lines are shipped (NDJSON posts to gunicorn, and the local worker
running a job) and clients read logs: log routes answer 503 while it is down and, once it is back, 200 with the
lines (never 204: the execution has lines from before the outage); job routes answer throughout; no request is
re-sent; at the end every accepted line is in Elasticsearch exactly once."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from dataclasses import replace

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.factories import manifest
from tests.live_api import executor_of
from tests.reliability.checks import assert_lines_exactly_once, count_lines, read_lines
from tests.reliability.harness import Gunicorn, assert_clean_error, start_worker, wait_until
from tests.reliability.seed import seed_jobs
from tests.reliability.traffic import LogTraffic
from tests.search.helpers import lines_of

ES_TIMEOUT = 3  # seconds the API waits for Elasticsearch (reads, and a post's "stored" confirmation)
GRACE = 5  # seconds after the node answers again before every log read must succeed (the clients reconnect)


@pytest.mark.slow
def test_elasticsearch_restart_while_shipping_and_reading(own_node, settings, stores, tmp_path, sized, figures):
    prefix = settings.log_index_prefix
    es = own_node.connection.admin(request_timeout=30)
    seeded = seed_jobs(stores, types=1, jobs=4, running=2, finished=0)
    server = Gunicorn(
        tmp_path / "api",
        settings.database_url,
        own_node.url,
        prefix,
        ADMIN_TOKEN,
        workers=2,
        extra_env={"ELASTICSEARCH_TIMEOUT": str(ES_TIMEOUT)},
    ).start()
    # A job for the local worker that prints through the whole outage.
    worker_lines = sized(2500, 12000)
    command = (
        f'{sys.executable} -u -c "import time\nfor i in range(1, {worker_lines} + 1):\n'
        f"    print('worker line', i)\n    time.sleep(0.008)\""
    )
    job_type, _ = stores.job_types.save_job_type("rel/printer:1", manifest(command=command, timeout=600))
    worker_job = stores.jobs.create_job(job_type.id, {"files": {}, "json": {}})
    node_name = f"rel-es-{uuid.uuid4().hex[:6]}"
    # The worker talks to this gunicorn with an executor token of its node (no database credential).
    worker_settings = replace(settings, data_dir=tmp_path / "worker", elasticsearch_url=own_node.url)
    worker = start_worker(executor_of(server.url, worker_settings, stores, node_name), tmp_path / "worker.log")

    exe = seeded.running[0]

    def content_problem(path: str, answer) -> str | None:
        """What is wrong with a 200 log read of exe (which has lines from before the outage on)."""
        if "tail=20" in path:
            tail = lines_of(answer.json)
            return None if len(tail) == 20 else f"{len(tail)} lines of tail=20"
        if "limit=50" in path:
            numbers = [line["scale_order_num"] for line in lines_of(answer.json)]
            return None if numbers == list(range(1, 51)) else f"first page numbered {numbers[:5]}..."
        return None if answer.json["count"] > 0 and answer.json["results"] else "no match"

    def check(kind: str, path: str, answer) -> None:
        if answer.status >= 400:
            assert_clean_error(answer.body, answer.status)
            assert own_node.url.split("//")[1] not in answer.body.decode(), "the node's address leaked"
        elif kind == "logs":
            assert answer.status == 200, f"{path}: {answer.status} (the execution has lines)"
            problem = content_problem(path, answer)
            assert problem is None, f"{path}: {problem}"

    traffic = LogTraffic(server, seeded.running, "api ", check)

    def reader(paths: list[str], kind: str) -> None:
        http = server.client(timeout=60)
        n = 0
        while not traffic.stop.is_set():
            n += 1
            path = paths[n % len(paths)]
            try:
                traffic.record(kind, path, http.get(path))
            except Exception as exc:
                traffic.failures.append(f"{kind} {path} {exc!r}")
            time.sleep(0.05)
        traffic.resends.append(http.resends)

    log_paths = [
        f"/v6/job-executions/{exe.id}/logs/combined/?limit=50",
        "/v6/logs/?q=api&page_size=10",
        f"/v6/jobs/{exe.job_id}/logs/?page_size=10",
        f"/v6/job-executions/{exe.id}/logs/stdout/?tail=20",
    ]
    job_paths = [
        "/v6/jobs/?page_size=10",
        f"/v6/jobs/{exe.job_id}/",
        f"/v6/jobs/{exe.job_id}/executions/",
        "/v6/job-types/",
    ]
    threads = [threading.Thread(target=traffic.shipper, args=(e,), daemon=True) for e in seeded.running]
    threads += [threading.Thread(target=reader, args=(log_paths, "logs"), daemon=True) for _ in range(2)]
    threads += [threading.Thread(target=reader, args=(job_paths, "jobs"), daemon=True)]
    try:
        wait_until(lambda: job_status(server, worker_job) == "RUNNING", 30, 0.2, "the worker running its job")
        first = server.client(token=ADMIN_TOKEN)
        for e in seeded.running:  # lines before the readers start: a log read can only answer 200 (or 503)
            traffic.post(first, e)
        first.close()
        assert not traffic.failures, traffic.failures
        wait_until(lambda: count_lines(es, f"{prefix}-*", exe.cluster_id) == 50, 60, 0.2, "the first lines")
        for t in threads:
            t.start()
        # Steady state seen: posts accepted, logs and jobs read, before the fault.
        wait_until(
            lambda: min(traffic.seen("ingest", 202), traffic.seen("logs", 200), traffic.seen("jobs", 200)) >= 10,
            60,
            0.2,
            "steady traffic before the fault",
        )
        down_begin = time.monotonic()
        own_node.stop()
        down_end = time.monotonic()
        # The outage lasts a while (about time), and log reads are seen failing in it.
        time.sleep(sized(ES_TIMEOUT + 4, 60))
        wait_until(lambda: traffic.seen("logs", 503, down_end + ES_TIMEOUT + 1) >= 5, 60, 0.2, "log reads failing")
        ready = server.client().get("/readyz")
        assert ready.status == 503 and ready.json["elasticsearch"].startswith("unavailable"), ready.body
        up_begin = time.monotonic()
        own_node.start()
        up_end = time.monotonic()
        # Recovery seen: log reads and posts succeed again, past the reconnect grace.
        wait_until(
            lambda: (
                traffic.seen("logs", 200, up_end + GRACE) >= 20 and traffic.seen("ingest", 202, up_end + GRACE) >= 10
            ),
            120,
            0.2,
            "log reads and posts succeeding after the restart",
        )
    finally:
        traffic.stop.set()
        for t in threads:
            t.join(timeout=90)
    try:
        assert not any(t.is_alive() for t in threads), "a client hung"
        assert not traffic.failures, traffic.failures[:5]
        assert sum(traffic.resends) == 0, (
            f"{sum(traffic.resends)} requests got no answer on a kept-alive connection (re-sent)"
        )
        steady = [e for e in traffic.log if e[0] < down_begin]
        assert steady and all(s in (200, 202) for _, _, s in steady), "errors before the fault"
        job_errors = [s for _, kind, s in traffic.log if kind == "jobs" and s != 200]
        assert not job_errors, f"job routes failed: {sorted(set(job_errors))}"
        assert all(s == 202 for _, kind, s in traffic.log if kind == "ingest"), "a post was not accepted"
        outage = [s for t, kind, s in traffic.log if kind == "logs" and down_end + ES_TIMEOUT + 1 < t < up_begin]
        assert outage and all(s == 503 for s in outage), sorted(set(outage))
        assert all(s in (200, 503) for _, kind, s in traffic.log if kind == "logs")
        recovered = [s for t, kind, s in traffic.log if kind == "logs" and t > up_end + GRACE]
        assert recovered and all(s == 200 for s in recovered), sorted(set(recovered))
        first_ok = min(t for t, kind, s in traffic.log if kind == "logs" and s == 200 and t > up_end)
        shipped_during = sum(
            50 for t, kind, s in traffic.log if kind == "ingest" and s == 202 and down_begin < t < up_end
        )

        # The worker's job ran through it all and ended; every line arrives exactly once.
        wait_until(lambda: job_status(server, worker_job) == "COMPLETED", 120, 0.5, "the worker's job completing")
        expected = {e.cluster_id: traffic.accepted[e.id] for e in seeded.running}
        worker_cluster = f"scale_job_{worker_job}x1"
        expected[worker_cluster] = [[f"worker line {i}" for i in range(1, worker_lines + 1)]]
        wait_until(
            lambda: all(
                count_lines(es, f"{prefix}-*", cid) >= sum(len(b) for b in batches) for cid, batches in expected.items()
            ),
            120,
            1,
            "every accepted line in Elasticsearch",
        )
        found_total = 0
        for cid, batches in expected.items():
            docs = read_lines(es, f"{prefix}-*", cid)
            found_total += len(docs)
            # Each accepted line once, numbered 1..N; each post's lines (and the worker's whole output, one
            # stream captured in order) numbered consecutively in their own order.
            assert_lines_exactly_once(docs, batches, cid)
        figures.setdefault("faults", {})["elasticsearch_restart"] = {
            "restarts": 1,
            "down_seconds": round(up_end - down_begin, 1),
            "seconds_to_first_log_read": round(first_ok - up_end, 2),
            "lines_accepted": sum(len(b) for batches in expected.values() for b in batches),
            "lines_found": found_total,
            "api_lines_accepted_while_down": shipped_during,
            "worker_lines": worker_lines,
            "log_reads_503_while_down": len(outage),
            "log_reads_200_after": len(recovered),
            "job_requests": sum(1 for e in traffic.log if e[1] == "jobs"),
            "job_request_errors": len(job_errors),
            "resends": sum(traffic.resends),
        }
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        server.stop()


def job_status(server, job_id: int) -> str:
    answer = server.client().get(f"/v6/jobs/{job_id}/")
    assert answer.status == 200, answer.body
    return answer.json["status"]
