"""Elasticsearch stopped and restarted while lines are shipped (NDJSON posts to gunicorn, and the local worker
running a job) and clients read logs: log routes answer 503 while it is down and recover after, job routes
answer throughout, and at the end every accepted line is in Elasticsearch exactly once."""
from __future__ import annotations

import sys
import threading
import time
import uuid

from elasticsearch import Elasticsearch

from tests.conftest import ADMIN_TOKEN
from tests.factories import manifest
from tests.reliability.harness import Gunicorn, assert_clean_error, ndjson, start_worker, wait_until
from tests.reliability.seed import seed_jobs

ES_TIMEOUT = 3  # seconds the API waits for Elasticsearch (reads, and a post's "stored" confirmation)


def read_back(es: Elasticsearch, index: str, cluster_id: str) -> list[dict]:
    es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    out, after = [], None
    while True:
        hits = es.search(index=index, query={"term": {"scale_job_exe": cluster_id}}, size=5000,
                         sort=[{"scale_order_num": "asc"}, {"_index": "asc"}], search_after=after,
                         ignore_unavailable=True, allow_no_indices=True)["hits"]["hits"]
        out += [h["_source"] for h in hits]
        if len(hits) < 5000:
            return out
        after = hits[-1]["sort"]


def test_elasticsearch_restart_while_shipping_and_reading(own_node, settings, stores, tmp_path, sized, figures):
    prefix = settings.log_index_prefix
    es = Elasticsearch(own_node.url, request_timeout=30)
    seeded = seed_jobs(stores, types=1, jobs=4, running=2, finished=0)
    server = Gunicorn(tmp_path / "api", settings.database_url, own_node.url, prefix, ADMIN_TOKEN, workers=2,
                      extra_env={"ELASTICSEARCH_TIMEOUT": str(ES_TIMEOUT)}).start()
    # A job for the local worker that prints through the whole outage.
    worker_lines = sized(2500, 12000)
    command = (f"{sys.executable} -u -c \"import time\nfor i in range(1, {worker_lines} + 1):\n"
               f"    print('worker line', i)\n    time.sleep(0.008)\"")
    job_type, _ = stores.job_types.save_job_type("rel/printer:1", manifest(command=command, timeout=600))
    worker_job = stores.jobs.create_job(job_type.id, {"files": {}, "json": {}})
    node_name = f"rel-es-{uuid.uuid4().hex[:6]}"
    worker = start_worker(node_name, tmp_path / "worker", settings.database_url, own_node.url, prefix,
                          tmp_path / "worker.log")

    log: list[tuple[float, str, int]] = []
    accepted = {exe.id: [] for exe in seeded.running}  # messages accepted (202) per execution
    failures: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def record(kind: str, answer) -> None:
        with lock:
            log.append((time.monotonic(), kind, answer.status))
        if answer.status >= 400:
            assert_clean_error(answer.body, answer.status)
            assert own_node.url.split("//")[1] not in answer.body.decode(), "the node's address leaked"

    def shipper(exe) -> None:
        http = server.client(timeout=60, token=ADMIN_TOKEN)
        batch = 0
        while not stop.is_set():
            batch += 1
            messages = [f"api e{exe.id} b{batch} l{i}" for i in range(50)]
            try:
                a = http.post(f"/v6/job-executions/{exe.id}/logs/",
                              ndjson([{"message": m, "stream": "stdout"} for m in messages]),
                              headers={"Content-Type": "application/x-ndjson"})
                record("ingest", a)
                if a.status == 202:
                    assert a.json == {"accepted": 50}
                    accepted[exe.id].extend(messages)
                else:
                    failures.append(f"ingest {a.status} {a.body[:200]!r}")
            except Exception as exc:
                failures.append(f"ingest {exc!r}")
            time.sleep(0.05)

    def reader(paths: list[str], kind: str) -> None:
        http = server.client(timeout=60)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                record(kind, http.get(paths[n % len(paths)]))
            except Exception as exc:
                failures.append(f"{kind} {exc!r}")
            time.sleep(0.05)

    exe = seeded.running[0]
    log_paths = [f"/v6/job-executions/{exe.id}/logs/combined/?limit=50", "/v6/logs/?q=api&page_size=10",
                 f"/v6/jobs/{exe.job_id}/logs/?page_size=10", f"/v6/job-executions/{exe.id}/logs/stdout/?tail=20"]
    job_paths = ["/v6/jobs/?page_size=10", f"/v6/jobs/{exe.job_id}/", f"/v6/jobs/{exe.job_id}/executions/",
                 "/v6/job-types/"]
    threads = [threading.Thread(target=shipper, args=(e,), daemon=True) for e in seeded.running]
    threads += [threading.Thread(target=reader, args=(log_paths, "logs"), daemon=True) for _ in range(2)]
    threads += [threading.Thread(target=reader, args=(job_paths, "jobs"), daemon=True)]
    try:
        wait_until(lambda: job_status(server, worker_job) == "RUNNING", 30, 0.2, "the worker running its job")
        for t in threads:
            t.start()
        time.sleep(4)
        down_begin = time.monotonic()
        own_node.stop()
        down_end = time.monotonic()
        time.sleep(sized(ES_TIMEOUT + 4, 60))
        ready = server.client().get("/readyz")
        assert ready.status == 503 and ready.json["elasticsearch"].startswith("unavailable"), ready.body
        up_begin = time.monotonic()
        own_node.start()
        up_end = time.monotonic()
        time.sleep(sized(12, 30))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=90)
    try:
        assert not failures, failures[:5]
        steady = [e for e in log if e[0] < down_begin]
        assert steady and all(s in (200, 202, 204) for _, _, s in steady), "errors before the fault"
        assert all(s == 200 for _, kind, s in log if kind == "jobs"), \
            f"job routes failed: {sorted({s for _, k, s in log if k == 'jobs'})}"
        assert all(s == 202 for _, kind, s in log if kind == "ingest"), "a post was not accepted"
        outage = [s for t, kind, s in log if kind == "logs" and down_end + ES_TIMEOUT + 1 < t < up_begin]
        assert outage and all(s == 503 for s in outage), sorted(set(outage))
        assert all(s in (200, 204, 503) for _, kind, s in log if kind == "logs")
        recovered = [s for t, kind, s in log if kind == "logs" and t > up_end + 5]
        assert recovered and all(s in (200, 204) for s in recovered), sorted(set(recovered))
        shipped_during = sum(50 for t, kind, s in log if kind == "ingest" and s == 202 and down_begin < t < up_end)

        # The worker's job ran through it all and ended; every line arrives exactly once.
        wait_until(lambda: job_status(server, worker_job) == "COMPLETED", 120, 0.5, "the worker's job completing")
        expected = {e.cluster_id: accepted[e.id] for e in seeded.running}
        worker_cluster = f"scale_job_{worker_job}x1"
        expected[worker_cluster] = [f"worker line {i}" for i in range(1, worker_lines + 1)]

        def all_there() -> bool:
            return all(es.count(index=f"{prefix}-*", query={"term": {"scale_job_exe": cid}},
                                ignore_unavailable=True, allow_no_indices=True)["count"] >= len(msgs)
                       for cid, msgs in expected.items())
        wait_until(all_there, 120, 1, "every accepted line in Elasticsearch")
        found_total = 0
        for cid, messages in expected.items():
            docs = read_back(es, f"{prefix}-*", cid)
            found_total += len(docs)
            assert [d["scale_order_num"] for d in docs] == list(range(1, len(messages) + 1)), cid
            assert sorted(d["message"] for d in docs) == sorted(messages), cid
            if cid == worker_cluster:  # one stream, captured in order: order numbers follow the output
                assert [d["message"] for d in docs] == messages
        figures.setdefault("faults", {})["elasticsearch_restart"] = {
            "restarts": 1, "survived": 1, "down_seconds": round(up_end - down_begin, 1),
            "lines_accepted": sum(len(m) for m in expected.values()), "lines_found": found_total,
            "api_lines_accepted_while_down": shipped_during, "worker_lines": worker_lines,
            "log_reads_503_while_down": len(outage), "job_requests": sum(1 for e in log if e[1] == "jobs"),
            "job_request_errors": 0}
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        server.stop()


def job_status(server, job_id: int) -> str:
    answer = server.client().get(f"/v6/jobs/{job_id}/")
    assert answer.status == 200, answer.body
    return answer.json["status"]
