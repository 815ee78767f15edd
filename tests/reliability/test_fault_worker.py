"""The local worker (`python -m worker`, talking to gunicorn with an executor token) SIGKILLed in the middle of a
job: the job is not left RUNNING. Killed before the last time, a worker of the same node runs again and fails
what its predecessor left; killed the last time, its node never comes back and gunicorn's lease expiry fails the
execution once its lease runs out. Each time the execution fails as node-lost, the job is retried (by a worker
of another node at the end) and completes, and the lines the dead worker had accepted are shipped (exactly
once)."""

from __future__ import annotations

import signal
import sys
import uuid
from dataclasses import replace

from tests.conftest import ADMIN_TOKEN
from tests.es_node import connection_of
from tests.factories import manifest
from tests.live_api import executor_of
from tests.reliability.checks import read_lines
from tests.reliability.harness import Gunicorn, kill_processes_mentioning, start_worker, wait_until

LEASE_SECONDS = 2  # gunicorn's lease expiry looks every third of it


def test_worker_killed_mid_job_leaves_no_job_running_forever(make_client, stores, settings, tmp_path, sized, figures):
    client = make_client()
    kills = sized(1, 2)  # the job type allows 3 tries
    counter = tmp_path / f"runs-{uuid.uuid4().hex[:8]}"
    script = (
        "import sys, time\nfrom pathlib import Path\np = Path(sys.argv[1])\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\np.write_text(str(n))\n"
        f"print('run', n, flush=True)\nif n <= {kills}:\n    time.sleep(300)\nprint('done', n)"
    )
    command = f'{sys.executable} -u -c "{script}" {counter}'
    job_type, _ = stores.job_types.save_job_type("rel/sleeper:1", manifest(command=command, timeout=600))
    job_id = stores.jobs.create_job(job_type.id, {"files": {}, "json": {}})
    node = f"rel-worker-{uuid.uuid4().hex[:6]}"
    logs = tmp_path / "worker.log"
    worker_settings = replace(settings, data_dir=tmp_path / "worker")

    es = connection_of(settings.elasticsearch_url).admin(request_timeout=30)
    index = f"{settings.log_index_prefix}-*"

    def job() -> dict:
        return client.simulate_get(f"/v6/jobs/{job_id}/").json

    def messages(cluster_id: str) -> list[str]:
        return [d["message"] for d in read_lines(es, index, cluster_id)]

    server = Gunicorn(
        tmp_path / "api",
        settings.database_url,
        settings.elasticsearch_url,
        settings.log_index_prefix,
        ADMIN_TOKEN,
        workers=2,
        extra_env={"WORKER_LEASE_SECONDS": str(LEASE_SECONDS)},
    ).start()

    def worker(name: str):
        return start_worker(executor_of(server.url, worker_settings, stores, name, LEASE_SECONDS), logs)

    running = worker(node)
    try:
        for kill in range(1, kills + 1):
            wait_until(
                lambda: counter.exists() and counter.read_text() == str(kill) and job()["status"] == "RUNNING",
                60,
                0.2,
                f"run {kill} of the job",
            )
            # Killed once its first line is in Elasticsearch (read, numbered, spooled and shipped): what it had
            # accepted must survive it, and nothing else is expected of it.
            wait_until(
                lambda: messages(f"scale_job_{job_id}x{kill}") == [f"run {kill}"],
                60,
                0.2,
                f"the first line of run {kill} in Elasticsearch",
            )
            running.send_signal(signal.SIGKILL)
            running.wait(timeout=10)
            kill_processes_mentioning(str(counter))  # the dead worker's child (an orphan now)
            if kill < kills:
                running = worker(node)  # the node is back: its worker fails what the dead one left at start
                continue
            # The node is gone for good: only the lease expiry of gunicorn's processes can tell the job is lost.
            wait_until(lambda: job()["status"] == "QUEUED", 60, 0.2, "gunicorn failing the expired lease")
            running = worker(f"{node}-other")
        wait_until(lambda: job()["status"] == "COMPLETED", 60, 0.3, "the job completing after the restart")
    finally:
        running.send_signal(signal.SIGTERM)
        running.wait(timeout=60)
        kill_processes_mentioning(str(counter))
        server.stop()
    executions = client.simulate_get(f"/v6/jobs/{job_id}/executions/").json["results"]
    by_num = sorted(executions, key=lambda e: e["exe_num"])
    assert [e["status"] for e in by_num] == ["FAILED"] * kills + ["COMPLETED"], by_num
    for e in by_num[:-1]:
        details = client.simulate_get(f"/v6/job-executions/{e['id']}/").json
        assert details["error"]["name"] == "node-lost", details["error"]
    # What each run printed is in its own execution's log, once (read_lines: every document, duplicates too).
    expected = {
        f"scale_job_{job_id}x{n}": ([f"run {n}"] if n <= kills else [f"run {n}", f"done {n}"])
        for n in range(1, kills + 2)
    }
    wait_until(
        lambda: all(messages(c) == m for c, m in expected.items()),
        60,
        0.5,
        f"the runs' lines in Elasticsearch (expected {expected})",
    )
    figures.setdefault("faults", {})["worker_kill"] = {
        "kills": kills,
        "executions": len(by_num),
        "statuses": [e["status"] for e in by_num],
        "errors": [client.simulate_get(f"/v6/job-executions/{e['id']}/").json["error"]["name"] for e in by_num[:-1]],
        "lines_found": sum(len(messages(c)) for c in expected),
    }
