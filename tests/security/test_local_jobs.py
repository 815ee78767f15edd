"""Attack: a local job reads the admin token file, opens the SQLite database, reads the worker's environment
(its own and /proc/<worker pid>/environ) and writes outside its workspace (its own output folder must stay
writable). It used to run as the worker's own user with nothing in between; it now runs in a bubblewrap sandbox
(worker/sandbox.py) that sees none of it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

from tests.es_node import connection_env
from tests.factories import manifest
from tests.ingest.conftest import queue_job
from tests.ingest.reading import read_lines
from tests.reliability.harness import ROOT

TOKEN = "attack-test-admin-token-0123456789"

# What the job tries; every attempt prints one line, the test reads them back from Elasticsearch.
ATTACK = r"""
import json, os, sqlite3, sys
data_dir, db, worker_pid, outside = sys.argv[1:5]
def attempt(label, action):
    try:
        print(label, "GOT", action(), flush=True)
    except Exception as exc:
        print(label, "REFUSED", type(exc).__name__, flush=True)
attempt("token", lambda: open(os.path.join(data_dir, "api_token")).read())
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


def test_a_local_job_sees_neither_the_token_the_database_nor_the_workers_environment(stores, es, settings, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "api_token").write_text(TOKEN)
    db = settings.database_url.removeprefix("sqlite:///") if settings.database_url.startswith("sqlite") else ""
    outside = tmp_path / "outside"
    es_env = connection_env(settings.elasticsearch_url)
    env = dict(
        os.environ,
        DATABASE_URL=settings.database_url,
        DATA_DIR=str(data_dir),
        **es_env,
        LOG_INDEX_PREFIX=settings.log_index_prefix,
        SPOOL_DIR=str(data_dir / "spool"),
        PYTHONPATH=str(ROOT),
    )
    env.pop("API_TOKEN", None)  # the worker reads the token file, as a real deployment does
    worker = subprocess.Popen(
        [sys.executable, "-m", "worker", "--poll", "0.1", "--node", "attack-node"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        args = [str(data_dir), db or str(tmp_path / "no-sqlite"), str(worker.pid), str(outside)]
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
    while len(lines) < 8:
        assert time.monotonic() < deadline, f"the job's lines did not all arrive: {lines}"
        got = read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1")
        lines = {d["message"].split(" ", 1)[0]: d["message"] for d in got}
        time.sleep(0.1)
    print(json.dumps(lines, indent=1))  # the job's own account of the attack, shown with -s
    secrets = [TOKEN, settings.database_url, *es_env.values()]
    for label, line in lines.items():
        for secret in secrets:
            assert secret not in line, f"{label}: the job saw {secret!r}"
    for label in ("token", "database", "environ", "write-outside", "write-data-dir"):
        assert lines[label].startswith(f"{label} REFUSED"), lines[label]
    assert lines["write-output"] == "write-output GOT 2"  # its own output folder stays writable
    assert not outside.exists()
    assert not (data_dir / "planted").exists()
    assert (data_dir / "api_token").read_text() == TOKEN
