"""Attack: a local job reads the admin token file, the worker's executor token file, opens the SQLite database,
reads the worker's environment (its own and /proc/<worker pid>/environ) and writes outside its workspace (its own
output folder must stay writable). It used to run as the worker's own user with nothing in between; it now runs
in a bubblewrap sandbox (worker/sandbox.py) that sees none of it. And the worker itself holds no database
credential any more: it talks to the API with its executor token (issue 23)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from tests.es_node import connection_env
from tests.factories import manifest
from tests.ingest.conftest import queue_job
from tests.ingest.reading import read_lines
from tests.reliability.harness import ROOT

TOKEN = "attack-test-admin-token-0123456789"

# What the job tries; every attempt prints one line, the test reads them back from Elasticsearch.
ATTACK = r"""
import json, os, sqlite3, sys
data_dir, db, worker_pid, outside, executor_token = sys.argv[1:6]
def attempt(label, action):
    try:
        print(label, "GOT", action(), flush=True)
    except Exception as exc:
        print(label, "REFUSED", type(exc).__name__, flush=True)
attempt("token", lambda: open(os.path.join(data_dir, "api_token")).read())
attempt("executor-token", lambda: open(executor_token).read() or "nothing")
attempt("database", lambda: sqlite3.connect("file:" + db + "?mode=rw", uri=True).execute(
    "create table planted (x int)").fetchall())
attempt("environ", lambda: open("/proc/" + worker_pid + "/environ", "rb").read().decode(errors="replace"))
def all_environs():
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found.append(open("/proc/" + pid + "/environ", "rb").read().decode(errors="replace"))
            except OSError:
                pass
    return found
attempt("proc", all_environs)
attempt("own-env", lambda: json.dumps(dict(os.environ)))
attempt("write-outside", lambda: open(outside, "w").write("planted"))
attempt("write-data-dir", lambda: open(os.path.join(data_dir, "planted"), "w").write("planted"))
attempt("write-output", lambda: open(os.path.join(os.environ["OUTPUT_DIR"], "result.txt"), "w").write("ok"))
"""


def test_a_local_job_sees_neither_the_token_the_database_nor_the_workers_environment(
    stores, es, settings, tmp_path, executor_api
):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "api_token").write_text(TOKEN)
    db = settings.database_url.removeprefix("sqlite:///") if settings.database_url.startswith("sqlite") else ""
    outside = tmp_path / "outside"
    es_env = connection_env(settings.elasticsearch_url)
    api = executor_api("attack-node")
    executor_token = api.token
    # The worker reads its token from EXECUTOR_TOKEN_FILE and the admin token from DATA_DIR, as a real deployment
    # does; DATABASE_URL is not in its environment.
    env = api.env(DATA_DIR=str(data_dir), SPOOL_DIR=str(data_dir / "spool"))
    worker = subprocess.Popen(
        api.argv("--poll", "0.1"), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        environ = (Path("/proc") / str(worker.pid) / "environ").read_bytes()
        assert b"DATABASE_URL=" not in environ and settings.database_url.encode() not in environ
        assert executor_token.encode() not in environ
        args = [str(data_dir), db or str(tmp_path / "no-sqlite"), str(worker.pid), str(outside), str(api.token_file)]
        command = shlex.join([sys.executable, "-c", ATTACK, *args])
        job_id = queue_job(stores, manifest(command=command))
        deadline = time.monotonic() + 60
        while stores.jobs.get_job(job_id).job["status"] in ("QUEUED", "RUNNING"):
            assert time.monotonic() < deadline and worker.poll() is None, "the worker did not run the job"
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    lines = {}
    deadline = time.monotonic() + 30
    while len(lines) < 9:
        assert time.monotonic() < deadline, f"the job's lines did not all arrive: {lines}"
        got = read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1")
        lines = {d["message"].split(" ", 1)[0]: d["message"] for d in got}
        time.sleep(0.1)
    print(json.dumps(lines, indent=1))  # the job's own account of the attack, shown with -s
    secrets = [TOKEN, executor_token, settings.database_url, *es_env.values()]
    for label, line in lines.items():
        for secret in secrets:
            assert secret not in line, f"{label}: the job saw {secret!r}"
    for label in ("token", "database", "environ", "write-outside", "write-data-dir"):
        assert lines[label].startswith(f"{label} REFUSED"), lines[label]
    # The token file is covered (under /tmp here, under a hidden folder, or by /dev/null): nothing to read.
    assert lines["executor-token"] in ("executor-token GOT nothing", "executor-token REFUSED FileNotFoundError")
    assert lines["write-output"] == "write-output GOT 2"  # its own output folder stays writable
    assert not outside.exists()
    assert not (data_dir / "planted").exists()
    assert (data_dir / "api_token").read_text() == TOKEN
