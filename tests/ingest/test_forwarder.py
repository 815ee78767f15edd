"""The forwarder (ingest/forwarder.py): an executor host's captured lines go to the API (the app served on
loopback; gunicorn, the production configuration, where the test stops and restarts it) with an executor token
made in the real user store, then through the API's own shipper to the suite's Elasticsearch. Every line arrives
once, in order, with its stream, whatever happens to the API in between; refusals are reported and counted, never
retried forever, and never show the token."""

from __future__ import annotations

import email.utils
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from core.times import format_ns
from ingest.capture import Capture
from ingest.documents import Origin
from ingest.forwarder import Forwarder, _retry_after
from ingest.spool import SUFFIX
from settings import ConfigurationError, Settings
from tests.conftest import ADMIN_TOKEN, fill
from tests.factories import manifest
from tests.ingest.conftest import queue_job
from tests.ingest.reading import read_lines
from tests.ingest.test_worker import EXPECTED, INTERLEAVED, ROOT
from tests.live_api import serving
from tests.reliability.harness import Gunicorn, wait_until

NODE = "node-f"
# The forwarders' spools are tmp_path / "executor-spool": tmp_path / "spool" is the served app's (settings.spool_dir).


@pytest.fixture
def served_api(make_client):
    """The app (the test's database and indices) on 127.0.0.1 in a server thread: quicker to start than gunicorn."""
    with serving(make_client().app) as address:
        yield address


@pytest.fixture
def api(settings, tmp_path):
    """The API under gunicorn (one worker: the tests post from one client), on the test's database and indices."""
    g = Gunicorn(
        tmp_path / "api",
        settings.database_url,
        settings.elasticsearch_url,
        settings.log_index_prefix,
        ADMIN_TOKEN,
        workers=1,
    )
    g.start()
    yield g
    g.stop()


def executor_token(stores, node: str | None = NODE, scope: str = "executor") -> str:
    if stores.users.get_user("executors") is None:
        stores.users.add_user("executors", None, is_staff=False)
    token, _ = stores.users.create_token("executors", f"{scope}-{node}", scope=scope, node=node)
    return token


def capture_for(forwarder: Forwarder, stores, execution, **kwargs) -> Capture:
    """A Capture as the worker makes one: the execution's fields, numbers reserved in the database."""
    origin = Origin(
        cluster_id=execution.cluster_id,
        task=f"{execution.cluster_id}_main",
        node=NODE,
        job_type=execution.job_type_name,
        job_id=str(execution.job_id),
        exe_num=str(execution.exe_num),
    )
    return Capture(
        forwarder, origin, lambda n: stores.log_targets.reserve_log_sequence(execution.id, n), linger=0.05, **kwargs
    )


def feed(capture: Capture, first: int, count: int) -> list[tuple[str, str]]:
    """Lines first..first+count-1, alternating streams, handed to the capture 50 at a time."""
    sent = []
    for start in range(first, first + count, 50):
        for n in range(start, min(start + 50, first + count)):
            stream = "stderr" if n % 3 == 0 else "stdout"
            capture.feed(stream, f"line {n}\n".encode())
            sent.append((stream, f"line {n}"))
        capture.flush()
    return sent


def stored(es, settings, execution) -> list[dict]:
    return read_lines(es, f"{settings.log_index_prefix}-*", execution.cluster_id)


def refused(status: int, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "scale_log_forwarder_refused_lines_total", {"status": str(status), "outcome": outcome}
        )
        or 0.0
    )


# A sandboxed job first tries to read the executor token's file (argv[1]), then writes INTERLEAVED's lines.
READ_TOKEN_FILE = """
try:
    print("token file", "READ" if open(__import__("sys").argv[1]).read().strip() else "EMPTY", flush=True)
except OSError:
    print("token file REFUSED", flush=True)
"""


@pytest.fixture
def outside_tmp():
    """A folder outside /tmp (which a sandboxed job sees as its own empty one), removed afterwards."""
    folder = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="scale-test-"))
    yield folder
    shutil.rmtree(folder)


def test_python_m_worker_forwards_its_jobs_output_through_the_api(
    served_api, stores, es, settings, tmp_path, outside_tmp
):
    """The worker selected by SCALE_API_URL and EXECUTOR_TOKEN_FILE: no Elasticsearch setting at all, every line
    of the job in capture order with its stream, the token in none of its output, and its file (kept outside
    DATA_DIR here) out of the sandboxed job's sight."""
    token = executor_token(stores)
    token_file = outside_tmp / "executor-token"
    token_file.write_text(token + "\n")
    # Readable by anyone, as a careless install may leave it: only the sandbox's hiding keeps it from the job (run
    # by root, the worker runs jobs as nobody; run by a user, as that user, who can read its own 0600 files).
    outside_tmp.chmod(0o755)
    token_file.chmod(0o644)
    command = shlex.join([sys.executable, "-c", READ_TOKEN_FILE + INTERLEAVED, str(token_file)])
    job_id = queue_job(stores, manifest(command=command))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICSEARCH_")}
    env.update(
        DATABASE_URL=settings.database_url,
        DATA_DIR=str(tmp_path / "worker"),
        SPOOL_DIR=str(tmp_path / "worker" / "spool"),
        API_TOKEN="unused-by-the-worker",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="DEBUG",
        SCALE_API_URL=served_api,
        EXECUTOR_TOKEN_FILE=str(token_file),
    )
    done = subprocess.run(
        [sys.executable, "-m", "worker", "--once", "--node", NODE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert stores.jobs.get_job(job_id).job["status"] == "COMPLETED"
    got = read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x1")
    assert [(d["stream"], d["message"]) for d in got] == [("stdout", "token file REFUSED"), *EXPECTED]
    assert [d["scale_order_num"] for d in got] == list(range(1, len(EXPECTED) + 2))
    assert {(d["scale_node"], d["scale_task"]) for d in got} == {(NODE, f"scale_job_{job_id}x1_main")}
    assert "Traceback" not in done.stderr
    assert token not in done.stdout + done.stderr
    assert not list((tmp_path / "worker" / "spool").glob("*" + SUFFIX))  # nothing left behind


def test_the_api_stopped_mid_stream_and_restarted_loses_and_repeats_nothing(
    api, stores, es, settings, start_execution, tmp_path, caplog
):
    """Lines keep coming while the API is down; they are all stored once it is back. A batch sent again after
    the API stored it (here: a copy of the spool taken while the API was down, forwarded by a second forwarder)
    adds nothing: the API's document ids come from (execution, scale_order_num)."""
    caplog.set_level(logging.DEBUG)
    execution = start_execution(NODE)
    token = executor_token(stores)
    spool = tmp_path / "executor-spool"
    forwarder = Forwarder(
        api.url, token, spool, prefix=settings.log_index_prefix, max_body_lines=40, backoff=(0.05, 0.5)
    )
    capture = capture_for(forwarder, stores, execution)
    sent = feed(capture, 1, 300)
    wait_until(lambda: forwarder.stored > 0, 30, 0.05, "some lines forwarded")
    api.stop()
    sent += feed(capture, 301, 300)
    wait_until(lambda: forwarder.failing, 30, 0.05, "the forwarder noticing the API is down")
    copy = tmp_path / "copy"
    copy.mkdir()
    for segment in spool.glob("*" + SUFFIX):  # what is spooled now, as a crashed forwarder would leave it
        shutil.copyfile(segment, copy / segment.name)
    api.start()
    sent += feed(capture, 601, 300)
    capture.close()
    assert forwarder.flush(60)
    assert forwarder.close()
    # At least: a body whose answer the stop cut off is sent again (and stored once).
    assert forwarder.stored >= 900 and forwarder.error_count == 0
    replay = Forwarder(api.url, token, copy, prefix=settings.log_index_prefix)
    assert replay.flush(60) and replay.close()
    assert replay.stored >= 300  # at least every line spooled while the API was down, sent a second time
    got = stored(es, settings, execution)
    assert [(d["stream"], d["message"]) for d in got] == sent
    assert [d["scale_order_num"] for d in got] == list(range(1, 901))
    assert not list(spool.glob("*" + SUFFIX)) and not list(copy.glob("*" + SUFFIX))
    assert "did not answer" in caplog.text  # the outage was reported
    assert token not in caplog.text


def test_a_full_disk_on_the_api_is_retried_until_space_comes_back(
    make_client,
    settings,
    stores,
    es,
    start_execution,
    tmp_path,
    tiny_disk,
):
    """The API's spool on a full disk answers 507 (retry later): the forwarder keeps the lines and sends them
    again, backing off, until the API can take them."""
    with serving(make_client(spool_dir=tiny_disk / "spool").app) as api:
        execution = start_execution(NODE)
        ballast = fill(tiny_disk, leave=2048)
        forwarder = Forwarder(api, executor_token(stores), tmp_path / "executor-spool", backoff=(0.05, 0.5))
        capture = capture_for(forwarder, stores, execution)
        sent = feed(capture, 1, 200)
        wait_until(lambda: (forwarder.last_failure or "").startswith("507"), 30, 0.05, "a 507 from the API")
        assert forwarder.stored == 0 and not forwarder.flush(0)
        ballast.unlink()
        capture.close()
        assert forwarder.flush(60) and forwarder.close()
        assert forwarder.stored == 200 and forwarder.error_count == 0
        got = stored(es, settings, execution)
        assert [(d["stream"], d["message"]) for d in got] == sent


def test_a_refused_token_is_reported_counted_and_kept_and_a_bad_line_alone_is_dropped(
    served_api, stores, es, settings, start_execution, tmp_path, caplog
):
    """403 (an executor token of another node, a personal token): logged without the token, counted, the lines
    kept in the spool and not sent again by that forwarder; a forwarder with the right token sends them. A line
    the API refuses for good (stamped before the execution existed) is found by halving the body and dropped
    alone, the lines around it stored."""
    caplog.set_level(logging.DEBUG)
    execution = start_execution(NODE)
    spool = tmp_path / "executor-spool"
    wrong = [executor_token(stores, node="node-other"), executor_token(stores, node=None, scope="user")]
    sent: list[tuple[str, str]] = []
    for token in wrong:
        before = refused(403, "kept")
        forwarder = Forwarder(
            served_api, token, spool, backoff=(0.05, 0.5), refused_retries=2, refused_retry_seconds=0.1
        )
        capture = capture_for(forwarder, stores, execution)
        sent += feed(capture, len(sent) + 1, 30)
        capture.close()
        assert forwarder.flush(30)  # set aside: the worker ends its execution without waiting for them
        # Tried twice more, then kept for a restart: not retried again and again.
        wait_until(lambda: forwarder.kept_lines == len(sent), 30, 0.05, "the refused lines kept")
        assert forwarder.stored == 0 and forwarder.pending_lines == len(sent)
        assert refused(403, "kept") - before == len(sent)
        assert not forwarder.close()  # lines stay in the spool
        assert token not in caplog.text
    assert "refused the executor token (403)" in caplog.text
    assert "acts only on executions of node node-other" in caplog.text
    assert "You do not have permission" in caplog.text  # the personal token of a user who isn't staff
    assert list(spool.glob("*" + SUFFIX))

    before = refused(400, "dropped")
    token = executor_token(stores)
    right = Forwarder(served_api, token, spool, max_body_lines=16, backoff=(0.05, 0.5))
    assert right.flush(30) and right.stored == len(sent)  # what the refused forwarders left
    stamps = iter([time.time_ns() - 10 * 86400 * 10**9])  # the first line: ten days before the execution
    capture = capture_for(right, stores, execution, clock_ns=lambda: next(stamps, time.time_ns()))
    capture.feed("stdout", b"from before the execution\n")
    late = feed(capture, len(sent) + 1, 15)
    capture.close()
    assert right.flush(30) and right.close()
    assert right.error_count == 1 and refused(400, "dropped") - before == 1
    assert "outside this execution's life" in right.errors[0]["error"]
    got = stored(es, settings, execution)
    assert [(d["stream"], d["message"]) for d in got] == sent + late
    assert token not in caplog.text


def test_python_m_ingest_kubernetes_node_forwards_through_the_api(
    served_api, stores, es, settings, start_execution, tmp_path
):
    """The node agent selected by SCALE_API_URL and EXECUTOR_TOKEN_FILE: a pod's CRI lines reach the execution the
    pod's name gives (looked up on the API), with their streams and CRI times."""
    execution = start_execution(NODE)
    token_file = tmp_path / "executor-token"
    token_file.write_text(executor_token(stores))
    pod = f"jobs_scale-job-{execution.job_id}x{execution.exe_num}-abcde_0b6d3c1e-aaaa-bbbb-cccc-000000000001"
    log_file = tmp_path / "pods" / pod / "main" / "0.log"
    log_file.parent.mkdir(parents=True)
    stamp = format_ns(time.time_ns())
    log_file.write_text(
        f"{stamp} stdout F hello\n{stamp} stderr P half \n{stamp} stderr F done\n{stamp} stdout F bye\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTICSEARCH_", "KUBERNETES_SERVICE"))}
    env.update(
        DATABASE_URL="sqlite:////nonexistent/the-agent-needs-no-database.db",
        DATA_DIR=str(tmp_path / "agent"),
        API_TOKEN="unused-by-the-agent",
        PYTHONPATH=str(ROOT),
        KUBERNETES_NAMESPACE="jobs",
        KUBERNETES_POD_LOGS_DIR=str(tmp_path / "pods"),
        SCALE_API_URL=served_api,
        EXECUTOR_TOKEN_FILE=str(token_file),
    )
    agent = subprocess.Popen(
        [sys.executable, "-m", "ingest", "kubernetes-node", "--node", NODE, "--interval", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: len(stored(es, settings, execution)) == 3, 60, 0.2, "the pod's lines stored")
    finally:
        agent.terminate()
        out, err = agent.communicate(timeout=60)
    assert agent.returncode == 0, err[-3000:]
    assert '"lines": 3' in out and '"stored": 3' in out and '"spooled": 0' in out, out
    got = stored(es, settings, execution)
    assert [(d["stream"], d["message"], d["scale_order_num"]) for d in got] == [
        ("stdout", "hello", 1),
        ("stderr", "half done", 2),
        ("stdout", "bye", 3),
    ]
    assert got[0]["@timestamp"] == stamp and got[0]["scale_node"] == NODE
    assert token_file.read_text() not in out + err


def test_a_token_refused_for_a_moment_is_tried_again(served_api, stores, es, settings, start_execution, tmp_path):
    """The Kubernetes engine moves an execution to its pod's node once the pod runs; the node agent may read the
    pod's first lines before that, and its node-bound token is refused (403) for a moment. The lines set aside
    are sent once the execution is on the agent's node."""
    execution = start_execution("scheduler-node")
    forwarder = Forwarder(
        served_api,
        executor_token(stores),
        tmp_path / "executor-spool",
        backoff=(0.05, 0.5),
        refused_retries=100,
        refused_retry_seconds=0.2,
    )
    before = refused(403, "kept")
    capture = capture_for(forwarder, stores, execution)
    sent = feed(capture, 1, 60)
    capture.close()
    wait_until(lambda: refused(403, "kept") > before, 30, 0.05, "a 403")
    assert forwarder.stored == 0 and forwarder.pending_lines == 60
    assert stores.executions.move_to_node(execution.id, NODE)
    assert forwarder.flush(30)
    wait_until(lambda: forwarder.stored == 60, 30, 0.05, "the lines set aside forwarded")
    assert forwarder.close() and forwarder.kept_lines == 0
    assert [(d["stream"], d["message"]) for d in stored(es, settings, execution)] == sent


def test_the_forwarding_settings_need_a_readable_token_file(tmp_path):
    base = {"DATA_DIR": str(tmp_path), "API_TOKEN": "unused"}
    assert Settings.from_env(base).scale_api_url is None  # unset: the Shipper, as before
    token_file, empty = tmp_path / "token", tmp_path / "empty"
    token_file.write_text("the-executor-token\n")
    empty.write_text("\n")
    s = Settings.from_env({**base, "SCALE_API_URL": "http://api:8000/", "EXECUTOR_TOKEN_FILE": str(token_file)})
    assert (s.scale_api_url, s.executor_token, s.executor_token_file) == (
        "http://api:8000",
        "the-executor-token",
        token_file,
    )
    assert "the-executor-token" not in repr(s)
    for changes, problem in (
        ({"SCALE_API_URL": "http://api:8000"}, "EXECUTOR_TOKEN_FILE must name the file"),
        ({"SCALE_API_URL": "api:8000", "EXECUTOR_TOKEN_FILE": str(token_file)}, "must start with http"),
        ({"SCALE_API_URL": "http://api", "EXECUTOR_TOKEN_FILE": str(tmp_path / "none")}, "cannot read"),
        ({"SCALE_API_URL": "http://api", "EXECUTOR_TOKEN_FILE": str(empty)}, "is empty"),
    ):
        with pytest.raises(ConfigurationError, match=problem):
            Settings.from_env({**base, **changes})


def test_retry_after_is_read_as_seconds_or_an_http_date():
    def after(value: str) -> float | None:
        return _retry_after(httpx.Response(429, headers={"Retry-After": value}))

    assert after("7") == 7.0 and after("0") == 0.0
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 50 < (after(in_a_minute) or 0) <= 60
    assert after(email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0  # passed already: at once
    assert after("soon") is None and _retry_after(httpx.Response(503)) is None


def test_a_wrong_address_keeps_the_lines_and_an_unknown_execution_drops_them(
    served_api, stores, es, settings, start_execution, tmp_path, caplog
):
    """A SCALE_API_URL with a wrong path prefix answers 404 to everything: that must not read as "no such
    execution" and drop every line. An execution the API really does not know is a permanent refusal."""
    execution = start_execution(NODE)
    token = executor_token(stores)
    spool = tmp_path / "executor-spool"
    wrong = Forwarder(served_api + "/scale", token, spool, backoff=(0.05, 0.2))
    capture = capture_for(wrong, stores, execution)
    sent = feed(capture, 1, 20)
    capture.close()
    wait_until(lambda: "not the service" in (wrong.last_failure or ""), 30, 0.05, "the wrong address noticed")
    assert wrong.error_count == 0 and wrong.stored == 0 and not wrong.close(timeout=0)
    assert "a wrong address or path prefix?" in caplog.text
    right = Forwarder(served_api, token, spool)
    assert right.flush(30) and right.stored == 20
    assert [(d["stream"], d["message"]) for d in stored(es, settings, execution)] == sent

    before = refused(404, "dropped")
    unknown = Capture(right, Origin(cluster_id="scale_job_987654x1"), lambda n: 1)
    unknown.feed("stdout", b"one\ntwo\n")
    unknown.close()
    assert right.flush(30) and right.close()  # dropped: nothing left in the spool
    assert right.error_count == 2 and right.errors[0]["status"] == 404
    assert refused(404, "dropped") - before == 2
    assert not list(spool.glob("*" + SUFFIX))
