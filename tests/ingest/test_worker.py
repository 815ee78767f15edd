"""The local worker: real subprocesses, their output in Elasticsearch in capture order, exit codes,
timeouts, no shell, and recovery after the worker itself is killed."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.factories import manifest
from tests.ingest.conftest import queue_job
from tests.ingest.reading import read_lines
from worker.executor_client import ExecutorClient
from worker.outputs import Outputs
from worker.runner import Worker
from worker.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
PY = shlex.quote(sys.executable)

INTERLEAVED = r"""
import array, fcntl, sys, termios, time
out, err = sys.stdout.buffer, sys.stderr.buffer
def unread(stream):
    n = array.array("i", [0])
    fcntl.ioctl(stream.fileno(), termios.FIONREAD, n, True)  # bytes in the pipe not read yet
    return n[0]
def w(stream, data):
    stream.write(data)
    stream.flush()
    # Two pipes: "which stream came first" is only defined once the worker has read these bytes. So wait until
    # the pipe is empty before writing to the other one (no pause could guarantee that on a loaded machine).
    deadline = time.monotonic() + 60
    while unread(stream) and time.monotonic() < deadline:
        time.sleep(0.001)
w(out, b"first out\n")
w(err, b"first err\n")
w(out, b"\n")
w(err, b"x" * 100_000 + b"\n")
w(out, b"bad \xff\xfe bytes\n")
w(err, b"burst 1\nburst 2\n\nburst 4\n")
w(out, b"no newline at the end")
"""
EXPECTED = [
    ("stdout", "first out"),
    ("stderr", "first err"),
    ("stdout", ""),
    ("stderr", "x" * 100_000),
    ("stdout", "bad \ufffd\ufffd bytes"),
    ("stderr", "burst 1"),
    ("stderr", "burst 2"),
    ("stderr", ""),
    ("stderr", "burst 4"),
    ("stdout", "no newline at the end"),
]


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "job.py"
    path.write_text(textwrap.dedent(body))
    return f"{PY} {shlex.quote(str(path))}"


def job_of(stores, job_id: int):
    return stores.jobs.get_job(job_id).job


def sandboxes(tmp_path: Path) -> Sandbox:
    """The sandbox of `python -m worker`, hiding the test's DATA_DIR but for the job's script."""
    return Sandbox(hidden=(tmp_path,), readable=(tmp_path / "job.py",))


@pytest.mark.parametrize("sandboxed", [False, True], ids=["plain", "sandboxed"])
def test_job_output_arrives_exactly_in_capture_order(stores, shipper, es, settings, tmp_path, sandboxed):
    job_id = queue_job(stores, manifest(command=script(tmp_path, INTERLEAVED)))
    sandbox = sandboxes(tmp_path) if sandboxed else None
    Worker(stores.executions, shipper, "node-w", sandbox=sandbox).run_forever(once=True)
    job = job_of(stores, job_id)
    assert job["status"] == "COMPLETED"
    got = read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1")
    assert [(d["stream"], d["message"]) for d in got] == EXPECTED
    assert [d["scale_order_num"] for d in got] == list(range(1, len(EXPECTED) + 1))
    # The burst was written at once: one capture time, told apart only by the order numbers.
    burst = [d["@timestamp"] for d in got[5:9]]
    assert len(set(burst)) == 1 and burst[0] > got[4]["@timestamp"]
    assert {(d["scale_node"], d["scale_job_id"], d["scale_job_exe_num"], d["scale_task"]) for d in got} == {
        ("node-w", str(job_id), "1", f"scale_job_{job_id}x1_main")
    }
    # Both streams read back on their own, as Scale's stdout/stderr logs did.
    assert [
        d["message"] for d in read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1", "stdout")
    ] == [m for s, m in EXPECTED if s == "stdout"]


def test_inputs_and_settings_reach_the_job_without_a_shell(stores, shipper, es, settings, tmp_path):
    witness = tmp_path / "pwned"
    command = f"{PY} -c 'import os, sys; print(os.environ[\"GREETING\"]); print(sys.argv[1:])' ${{MODE}} tail"
    m = manifest(command=command, json=[{"name": "greeting", "type": "string"}], settings=[{"name": "MODE"}])
    hostile = f"$(touch {witness}); `touch {witness}` && touch {witness}"
    job_id = queue_job(stores, m, {"json": {"greeting": hostile}}, {"settings": {"MODE": "a b; touch " + str(witness)}})
    Worker(stores.executions, shipper, "node-w").run_forever(once=True)
    assert job_of(stores, job_id)["status"] == "COMPLETED"
    got = [d["message"] for d in read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1")]
    assert got == [hostile, str(["a b; touch " + str(witness), "tail"])]
    assert not witness.exists()


def test_only_the_settings_the_manifest_declares_reach_the_job(stores, shipper, es, settings):
    command = f'{PY} -c \'import os; print(os.environ.get("MODE"), os.environ.get("UNDECLARED"))\''
    m = manifest(command=command, settings=[{"name": "MODE"}])
    job_id = queue_job(stores, m, None, {"settings": {"MODE": "fast", "UNDECLARED": "smuggled"}})
    Worker(stores.executions, shipper, "node-w").run_forever(once=True)
    assert job_of(stores, job_id)["status"] == "COMPLETED"
    got = [d["message"] for d in read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1")]
    assert got == ["fast None"]


def test_exit_codes_map_through_the_manifest_errors(stores, shipper):
    errors = [{"code": 3, "name": "bad-input", "title": "Bad input", "category": "data"}]
    mapped = queue_job(stores, manifest(command=f"{PY} -c 'import sys; sys.exit(3)'", errors=errors))
    unmapped = queue_job(stores, manifest(command=f"{PY} -c 'import sys; sys.exit(4)'", errors=errors))
    worker = Worker(stores.executions, shipper, "node-w")
    worker.run_forever(once=True)
    worker.run_forever(once=True)
    assert (job_of(stores, mapped)["status"], job_of(stores, mapped)["error__name"]) == ("FAILED", "bad-input")
    assert (job_of(stores, unmapped)["status"], job_of(stores, unmapped)["error__name"]) == (
        "FAILED",
        "algorithm-unknown",
    )


@pytest.mark.parametrize("sandboxed", [False, True], ids=["plain", "sandboxed"])
def test_the_manifest_timeout_kills_the_job(stores, shipper, es, settings, tmp_path, sandboxed):
    marker = f"timeout-marker-{tmp_path.name}"
    job_id = queue_job(
        stores,
        manifest(command=f"{PY} -c 'import time; print(\"started\", flush=True); time.sleep(60)' {marker}", timeout=1),
    )
    began = time.monotonic()
    sandbox = Sandbox(hidden=(tmp_path,)) if sandboxed else None
    Worker(stores.executions, shipper, "node-w", sandbox=sandbox).run_forever(once=True)
    assert time.monotonic() - began < 30  # about time: killed near its 1 s timeout, not after its 60 s sleep
    job = job_of(stores, job_id)
    assert (job["status"], job["error__name"]) == ("FAILED", "timeout")
    got = [d["message"] for d in read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1")]
    assert got == ["started", "killed after the job type's timeout of 1 s"]
    # Nothing of the job is left running (in the sandbox: bwrap and the job inside its pid namespace).
    deadline = time.monotonic() + 10
    while processes_mentioning(marker):
        assert time.monotonic() < deadline, processes_mentioning(marker)
        time.sleep(0.05)


def processes_mentioning(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # it ended meanwhile
            pass
    return found


def worker_process(api, *args: str) -> subprocess.Popen:
    """`python -m worker` of api's node, talking to the served app with its executor token (no DATABASE_URL)."""
    # These jobs leave their pid in the test's folder for the test to kill: the sandbox forbids exactly that
    # (tests/security/test_local_jobs.py covers the sandboxed `python -m worker`).
    env = api.env(WORKER_SANDBOX="0", WORKER_LEASE_SECONDS=str(api.lease_seconds))
    return subprocess.Popen(
        api.argv("--poll", "0.1", *args), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def crash_first_try(stores, es, settings, tmp_path, api) -> int:
    """A job whose first try hangs, run by a worker process SIGKILLed once the try's first line is stored.
    Returns the job's id; the job is left RUNNING on api.node."""
    pid_file = tmp_path / "child.pid"
    job_id = queue_job(
        stores,
        manifest(
            command=script(
                tmp_path,
                f"""
        import os, time
        if os.environ["SCALE_EXE_NUM"] == "1":
            print("first try", flush=True)
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            time.sleep(60)
        print("second try")
    """,
            )
        ),
    )
    first = worker_process(api)
    try:
        deadline = time.monotonic() + 30
        # Running, and its first line accepted (the worker sends lines on within 0.2 s).
        while not (
            pid_file.exists()
            and pid_file.read_text()
            and read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1")
        ):
            assert time.monotonic() < deadline and first.poll() is None, first.stderr.read().decode()
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
        if pid_file.exists() and pid_file.read_text():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the orphaned job process
    assert job_of(stores, job_id)["status"] == "RUNNING"
    return job_id


def assert_second_try_completed(stores, es, settings, job_id: int) -> None:
    detail = stores.jobs.get_job(job_id)
    assert (detail.job["status"], detail.job["num_exes"]) == ("COMPLETED", 2)
    first_exe = stores.executions.get_execution(job_id=job_id, exe_num=1)
    assert (first_exe.status, first_exe.error.name) == ("FAILED", "node-lost")
    assert [d["message"] for d in read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1")] == [
        "first try"
    ]
    assert [d["message"] for d in read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x2")] == [
        "second try"
    ]


def test_a_worker_killed_mid_job_is_recovered_by_its_successor(stores, es, settings, tmp_path, executor_api):
    api = executor_api("crash-node")
    job_id = crash_first_try(stores, es, settings, tmp_path, api)
    # Its lease has a minute to go: only a worker holding the same node name knows the job is lost.
    second = worker_process(api, "--once")
    _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err.decode()
    assert_second_try_completed(stores, es, settings, job_id)


def lease_ran_out(stores, job_id: int) -> bool:
    """The first execution's lease is over, by the same comparison the store's reaper makes."""
    from sqlalchemy import func, select

    from core.times import utcnow
    from jobs.models import JobExecution

    with stores.db.engine.connect() as c:
        return (
            c.scalar(
                select(func.count())
                .select_from(JobExecution)
                .where(JobExecution.job_id == job_id, JobExecution.exe_num == 1, JobExecution.lease_expires < utcnow())
            )
            == 1
        )


def lease_expiry(stores, job_id: int):
    from sqlalchemy import select

    from jobs.models import JobExecution

    with stores.db.engine.connect() as c:
        return c.scalar(
            select(JobExecution.lease_expires).where(JobExecution.job_id == job_id, JobExecution.exe_num == 1)
        )


def test_a_worker_lost_for_good_is_recovered_by_the_api_once_its_lease_runs_out(
    stores, es, settings, tmp_path, executor_api
):
    job_id = crash_first_try(stores, es, settings, tmp_path, executor_api("vanished-node", lease_seconds=2))
    # That node never comes back: once the lease runs out, the API's lease expiry fails the execution and the
    # job is queued again (retried), with no worker of any node doing anything.
    deadline = time.monotonic() + 30
    while job_of(stores, job_id)["status"] != "QUEUED":
        assert time.monotonic() < deadline, "the API never failed the execution whose lease ran out"
        time.sleep(0.05)
    assert lease_ran_out(stores, job_id)
    other = worker_process(executor_api("other-node", lease_seconds=2), "--once")
    _, err = other.communicate(timeout=60)
    assert other.returncode == 0, err.decode()
    assert_second_try_completed(stores, es, settings, job_id)


@pytest.mark.slow
def test_a_running_job_keeps_its_lease_however_long_it_runs(stores, shipper, tmp_path):
    """A 4 s lease, renewed every third of it, while another worker reaps expired leases every 50 ms. The job runs
    until the test has seen its lease renewed four times and twice its length has passed (so a worker that did not
    renew would have lost it, at 4 s), then it is told to end. A renewal may come up to 2.7 s late (a loaded
    machine) without losing the lease."""
    go = tmp_path / "go"
    job_id = queue_job(
        stores,
        manifest(
            command=script(
                tmp_path,
                f"""
        import os, time
        deadline = time.monotonic() + 60
        while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:
            time.sleep(0.05)
    """,
            ),
            timeout=120,
        ),
    )
    lease = 4
    worker = Worker(stores.executions, shipper, "node-long", lease_seconds=lease)
    runner = threading.Thread(target=worker.run_forever, kwargs={"once": True})
    runner.start()
    reaped, expiries, began = 0, set(), None
    while runner.is_alive():  # another worker reaping all along
        reaped += stores.executions.fail_expired_leases()
        expiry = lease_expiry(stores, job_id)
        if expiry is not None:
            began = began or time.monotonic()
            expiries.add(expiry)
            if len(expiries) >= 5 and time.monotonic() - began > 2 * lease:
                go.touch()  # renewed four times (five expiries seen), ran two leases: the job may end
        time.sleep(0.05)
    runner.join()
    assert reaped == 0
    assert len(expiries) >= 5, f"the lease was renewed {len(expiries) - 1} times"
    assert job_of(stores, job_id)["status"] == "COMPLETED"


def test_a_worker_whose_lease_was_taken_kills_its_job_at_once(stores, shipper, tmp_path):
    started = tmp_path / "started"
    job_id = queue_job(
        stores,
        manifest(
            command=script(
                tmp_path,
                f"""
        import time
        open({str(started)!r}, "w").close()
        time.sleep(60)
    """,
            ),
            timeout=120,
        ),
    )
    worker = Worker(stores.executions, shipper, "node-cut-off", lease_seconds=1.5)  # it looks every half second
    result: list[str] = []
    runner = threading.Thread(
        target=lambda: result.append(worker.run(stores.executions.claim_next_queued("node-cut-off", 1.5)))
    )
    runner.start()
    deadline = time.monotonic() + 30
    while not started.exists():  # the job runs
        assert time.monotonic() < deadline and runner.is_alive(), "the job did not start"
        time.sleep(0.05)
    exe = stores.executions.get_execution(job_id=job_id, exe_num=1)
    # What another worker does when this one's lease ran out (it was cut off from the database, say).
    assert stores.executions.finish_execution(exe.id, "FAILED", error={"name": "node-lost"}) == "QUEUED"
    began = time.monotonic()
    runner.join(timeout=60)
    assert not runner.is_alive()
    # About time: killed within seconds (it looks every half second), not left to sleep its minute.
    assert result == ["LOST"] and time.monotonic() - began < 30
    assert job_of(stores, job_id)["status"] == "QUEUED"  # as the other worker left it


WRITES_OUTPUTS = r"""
import os, pathlib
out = pathlib.Path(os.environ["OUTPUT_DIR"])
(out / "tiles").mkdir()
(out / "report.pdf").write_bytes(b"%PDF-1.4 " + b"x" * 91)
(out / "tiles" / "t1.png").write_bytes(b"\x89PNG" + b"\0" * 10)
(out / "tiles" / "t2.png").write_bytes(b"")
(out / "notes.weird-extension").write_text("hello")
os.symlink("/etc/hostname", out / "link.txt")  # never followed nor reported
print("wrote outputs")
"""


@pytest.mark.parametrize("through", ["api", "store"])
def test_files_a_job_writes_to_its_output_dir_are_reported(
    stores, shipper, make_client, settings, tmp_path, executor_api, through
):
    """Through the API (as `python -m worker` runs: an executor token claims, renews, and finishes with the files
    in PATCH /v6/job-executions/{id}/), and with the store in the same process."""
    m = manifest(command=script(tmp_path, WRITES_OUTPUTS))
    m["job"]["interface"]["outputs"] = {
        "files": [{"name": "report", "pattern": "*.pdf"}, {"name": "tiles", "pattern": "tiles/*.png", "multiple": True}]
    }
    job_id = queue_job(stores, m)
    root = tmp_path / "outputs"
    # The service side makes the workspace (scripts/run does for the local worker); the worker only writes to it.
    stores.files.ensure_workspace("local", "Local worker outputs", str(root), "http://files.example.org/local")
    outputs = Outputs(root, "local")
    if through == "api":
        api = executor_api("node-w")
        executions = ExecutorClient(api.url, api.token, "node-w")
        Worker(executions, shipper, "node-w", outputs=outputs).run_forever(once=True)
        executions.close()
    else:
        Worker(stores.executions, shipper, "node-w", outputs=outputs).run_forever(once=True)
    assert job_of(stores, job_id)["status"] == "COMPLETED"
    client = make_client()
    r = client.simulate_get(
        f"/v6/files/?job_id={job_id}&sortField=last_modified&sortOrder=desc",
        headers={"Accept": "application/json, text/plain, */*"},
    )
    assert r.status_code == 200
    cluster_id = f"scale_job_{job_id}x1"
    files = {f["file_path"]: f for f in r.json["results"]}
    assert set(files) == {
        f"{cluster_id}/report.pdf",
        f"{cluster_id}/tiles/t1.png",
        f"{cluster_id}/tiles/t2.png",
        f"{cluster_id}/notes.weird-extension",
    }
    report = files[f"{cluster_id}/report.pdf"]
    assert (report["file_name"], report["file_size"], report["media_type"], report["job_output"]) == (
        "report.pdf",
        100,
        "application/pdf",
        "report",
    )
    assert report["url"] == f"http://files.example.org/local/{cluster_id}/report.pdf"
    assert report["workspace"]["name"] == "local" and report["job"] == {"id": job_id}
    assert files[f"{cluster_id}/tiles/t2.png"]["file_size"] == 0
    assert files[f"{cluster_id}/tiles/t1.png"]["media_type"] == "image/png"
    other = files[f"{cluster_id}/notes.weird-extension"]
    assert other["media_type"] == "application/octet-stream" and other["job_output"] is None
    # The files are where their records say (the workspace's folder), after the job's working directory is gone.
    assert (root / cluster_id / "report.pdf").read_bytes().startswith(b"%PDF")
    detail = client.simulate_get(f"/v6/jobs/{job_id}/").json
    assert detail["output"]["files"] == {
        "report": [report["id"]],
        "tiles": sorted(files[f"{cluster_id}/tiles/{n}"]["id"] for n in ("t1.png", "t2.png")),
    }
    with stores.db.engine.connect() as c:
        config = c.exec_driver_sql("SELECT json_config FROM workspaces WHERE name = 'local'").scalar()
    assert str(root) in str(config)  # the host-path workspace on that folder
