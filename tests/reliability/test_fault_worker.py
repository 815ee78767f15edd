"""The local worker (`python -m worker`) SIGKILLed in the middle of a job: once a worker of that node
runs again, the job is not left RUNNING: its execution fails as node-lost, the job is retried and completes,
and the lines the dead worker had accepted are shipped (exactly once)."""

from __future__ import annotations

import signal
import sys
import time
import uuid

from tests.es_node import connection_of
from tests.factories import manifest
from tests.reliability.checks import read_lines
from tests.reliability.harness import kill_processes_mentioning, start_worker, wait_until


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

    es = connection_of(settings.elasticsearch_url).admin(request_timeout=30)
    index = f"{settings.log_index_prefix}-*"

    def job() -> dict:
        return client.simulate_get(f"/v6/jobs/{job_id}/").json

    def messages(cluster_id: str) -> list[str]:
        return [d["message"] for d in read_lines(es, index, cluster_id)]

    def worker():
        return start_worker(
            node,
            tmp_path / "worker",
            settings.database_url,
            settings.elasticsearch_url,
            settings.log_index_prefix,
            logs,
        )

    running = worker()
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
            time.sleep(1)  # about time: for a while, nothing but the node's next worker can tell it died
            assert job()["status"] == "RUNNING", "nothing but the node's next worker can tell it died"
            running = worker()
        wait_until(lambda: job()["status"] == "COMPLETED", 60, 0.3, "the job completing after the restart")
    finally:
        running.send_signal(signal.SIGTERM)
        running.wait(timeout=60)
        kill_processes_mentioning(str(counter))
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
