"""Queued jobs run as Kubernetes Jobs on a real cluster, their output shipped from the kubelet's CRI log files
by the node agent: streams and order exact, Seed errors by exit code, timeout, cancel, and both processes
killed and restarted mid-job. Test jobs open no network connection at all."""

from __future__ import annotations

import textwrap

import yaml
from kubernetes import client

from jobs.records import JobQuery
from tests.factories import manifest
from tests.ingest.reading import read_lines
from tests.kubernetes.conftest import BUSYBOX_IMAGE, ROOT, kube_jobs, queue, wait_until

# The job's two pipes are read by containerd into one file: which stream came first is only defined once
# containerd has read one pipe empty before the job writes to the other (FIONREAD says when), then a moment
# for it to write the line down.
INTERLEAVED = textwrap.dedent(
    r"""
    import array, fcntl, sys, termios, time
    out, err = sys.stdout.buffer, sys.stderr.buffer
    def w(stream, data):
        stream.write(data)
        stream.flush()
        n = array.array("i", [0])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            fcntl.ioctl(stream.fileno(), termios.FIONREAD, n, True)
            if not n[0]:
                break
            time.sleep(0.001)
        time.sleep(0.05)
    w(out, b"first out\n")
    w(err, b"first err\n")
    w(out, b"\n")
    w(err, b"x" * 100_000 + b"\n")
    w(out, b"bad \xff\xfe bytes\n")
    w(err, b"burst 1\nburst 2\n\nburst 4\n")
    w(out, b"no newline at the end")
    """
)
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


def job(stores, job_id: int) -> dict:
    return stores.jobs.get_job(job_id).job


def ended(stores, job_id: int):
    return lambda: job(stores, job_id)["status"] in ("COMPLETED", "FAILED", "CANCELED")


def lines(es, settings, job_id: int, exe: int = 1) -> list[dict]:
    return read_lines(es, f"{settings.log_index_prefix}-*", f"scale_job_{job_id}x{exe}")


def python_command(code: str) -> str:
    # One argument for the whole program: the command is split like a shell would, with no shell.
    return "python3 -c " + "'" + code.replace("'", "'\"'\"'") + "'"


def test_interleaved_output_arrives_with_its_streams_in_order(stores, es, settings, procs, kube_api, namespace):
    job_id = queue(stores, manifest(command=python_command(INTERLEAVED)))
    procs.agent()
    procs.engine()
    wait_until("the job to end", ended(stores, job_id), why=lambda: procs.log("engine.log"))
    assert job(stores, job_id)["status"] == "COMPLETED"
    exe = stores.executions.get_execution(job_id=job_id, exe_num=1)
    assert exe.node.hostname == "localhost"  # the pod's node, not the engine's name
    got = wait_until(
        "every line in Elasticsearch",
        lambda: (found := lines(es, settings, job_id)) and len(found) >= len(EXPECTED) and found,
        why=lambda: procs.log("agent.log"),
    )
    assert [(d["stream"], d["message"]) for d in got] == EXPECTED
    assert [d["scale_order_num"] for d in got] == list(range(1, len(EXPECTED) + 1))
    assert {(d["scale_job_id"], d["scale_job_exe_num"], d["scale_node"]) for d in got} == {
        (str(job_id), "1", "localhost")
    }
    assert {(d["scale_job_type"], d["scale_job_version"]) for d in got} == {(exe.job_type.name, exe.job_type.version)}
    assert len(kube_jobs(kube_api, namespace)) == 1


def test_an_exit_code_becomes_its_seed_error(stores, procs):
    m = manifest(
        command="sh -c 'echo failing >&2; exit 3'", errors=[{"code": 3, "name": "bad-input", "category": "data"}]
    )
    job_id = queue(stores, m, image=BUSYBOX_IMAGE)
    procs.engine()
    wait_until("the job to end", ended(stores, job_id), why=lambda: procs.log("engine.log"))
    exe = stores.executions.get_execution(job_id=job_id, exe_num=1)
    assert (job(stores, job_id)["status"], exe.status) == ("FAILED", "FAILED")
    assert (exe.error.name, exe.error.category) == ("bad-input", "DATA")


def test_a_job_past_its_timeout_fails_as_timed_out(stores, procs, kube_api, namespace):
    job_id = queue(stores, manifest(command="sleep 120", timeout=3), image=BUSYBOX_IMAGE)
    procs.engine()
    wait_until("the job to end", ended(stores, job_id), why=lambda: procs.log("engine.log"))
    exe = stores.executions.get_execution(job_id=job_id, exe_num=1)
    assert (job(stores, job_id)["status"], exe.error.name) == ("FAILED", "timeout")


def test_cancel_while_running_deletes_the_kubernetes_job(stores, procs, kube_api, namespace):
    job_id = queue(stores, manifest(command="sleep 120"), image=BUSYBOX_IMAGE)
    procs.engine()
    wait_until(
        "the pod to run",
        lambda: (e := stores.executions.get_execution(job_id=job_id, exe_num=1)) and e.node.hostname == "localhost",
        why=lambda: procs.log("engine.log"),
    )
    assert len(kube_jobs(kube_api, namespace)) == 1
    assert stores.jobs.cancel_jobs(JobQuery(job_ids=[job_id])) == 1
    wait_until("the Kubernetes Job to be deleted", lambda: not kube_jobs(kube_api, namespace))
    assert job(stores, job_id)["status"] == "CANCELED"
    assert stores.executions.get_execution(job_id=job_id, exe_num=1).status == "CANCELED"


def test_an_engine_killed_mid_job_adopts_its_job_when_restarted(stores, procs, kube_api, namespace):
    job_id = queue(stores, manifest(command="sh -c 'sleep 6; echo done'"), image=BUSYBOX_IMAGE)
    first = procs.engine()
    wait_until("the Kubernetes Job", lambda: kube_jobs(kube_api, namespace), why=lambda: procs.log("engine.log"))
    uid = kube_jobs(kube_api, namespace)[0]["metadata"]["uid"]
    procs.kill(first)
    assert job(stores, job_id)["status"] == "RUNNING"
    procs.engine()
    wait_until("the job to end", ended(stores, job_id), why=lambda: procs.log("engine.log"))
    assert job(stores, job_id)["status"] == "COMPLETED"
    assert job(stores, job_id)["num_exes"] == 1
    assert [j["metadata"]["uid"] for j in kube_jobs(kube_api, namespace)] == [uid]  # no second Job


def test_a_pod_deleted_while_running_is_retried_as_node_lost(stores, procs, kube_api, namespace):
    # The first try waits; the second ends at once ($SCALE_EXE_NUM is put into the argument before the shell).
    m = manifest(command="sh -c 'if [ $SCALE_EXE_NUM = 1 ]; then sleep 120; fi; echo done'")
    job_id = queue(stores, m, image=BUSYBOX_IMAGE)
    procs.engine()
    wait_until(
        "the first pod to run",
        lambda: (e := stores.executions.get_execution(job_id=job_id, exe_num=1)) and e.node.hostname == "localhost",
        why=lambda: procs.log("engine.log"),
    )
    client.CoreV1Api(kube_api).delete_collection_namespaced_pod(
        namespace, label_selector=f"job-name=scale-job-{job_id}x1"
    )
    wait_until(
        "the job to end", lambda: job(stores, job_id)["status"] == "COMPLETED", why=lambda: procs.log("engine.log")
    )
    first = stores.executions.get_execution(job_id=job_id, exe_num=1)
    assert (first.status, first.error.name, job(stores, job_id)["num_exes"]) == ("FAILED", "node-lost", 2)


LINES = 3000


def test_a_node_agent_killed_mid_stream_neither_loses_nor_repeats_a_line(stores, es, settings, procs):
    code = f"import sys, time\nfor i in range({LINES}):\n    print(f'line {{i}}', flush=True)\n    time.sleep(0.005)\n"
    job_id = queue(stores, manifest(command=python_command(code)))
    agent = procs.agent()
    procs.engine()
    wait_until("some lines shipped", lambda: len(lines(es, settings, job_id)) > 100, why=lambda: procs.log("agent.log"))
    procs.kill(agent)
    assert job(stores, job_id)["status"] == "RUNNING"  # killed mid-stream
    procs.agent()
    wait_until("the job to end", ended(stores, job_id), why=lambda: procs.log("engine.log"))
    got = wait_until("every line", lambda: (f := lines(es, settings, job_id)) and len(f) >= LINES and f, timeout=120)
    assert [d["message"] for d in got] == [f"line {i}" for i in range(LINES)]
    assert [d["scale_order_num"] for d in got] == list(range(1, LINES + 1))


def test_an_oom_kill_is_a_system_error(stores, procs):
    m = manifest(command=python_command("b = bytearray(1 << 30)"), resources=[{"name": "mem", "value": 128}])
    job_id = queue(stores, m)
    procs.engine()
    first = wait_until(
        "the first execution to end",
        lambda: (e := stores.executions.get_execution(job_id=job_id, exe_num=1)) and e.status != "RUNNING" and e,
        why=lambda: procs.log("engine.log"),
    )
    assert (first.status, first.error.name, first.error.category) == ("FAILED", "resource-starvation", "SYSTEM")


def test_twenty_jobs_at_once_each_run_once(stores, procs, kube_api, namespace):
    m = manifest(command="sh -c 'echo job $SCALE_JOB_ID'")
    job_type, _ = stores.job_types.save_job_type(BUSYBOX_IMAGE, m)
    job_ids = [stores.jobs.create_job(job_type.id, {"files": {}, "json": {}}) for _ in range(20)]
    procs.engine()
    wait_until(
        "every job to end",
        lambda: all(ended(stores, j)() for j in job_ids),
        timeout=300,
        why=lambda: procs.log("engine.log"),
    )
    assert {job(stores, j)["status"] for j in job_ids} == {"COMPLETED"}
    names = sorted(j["metadata"]["name"] for j in kube_jobs(kube_api, namespace))
    assert names == sorted(f"scale-job-{j}x1" for j in job_ids)


def test_the_engine_and_agent_need_no_more_than_their_roles(stores, es, settings, procs, kube_api, namespace, tmp_path):
    """mappings/kubernetes' ServiceAccounts and Roles, in the test's namespace, are all the engine and the node
    agent get: a job still runs to its end with its lines and job type shipped."""
    rbac = client.RbacAuthorizationV1Api(kube_api)
    core = client.CoreV1Api(kube_api)
    for file in ("worker-rbac.yaml", "node-agent.yaml"):
        for doc in yaml.safe_load_all((ROOT / "mappings" / "kubernetes" / file).read_text()):
            doc["metadata"]["namespace"] = namespace
            for subject in doc.get("subjects") or []:
                subject["namespace"] = namespace
            create = {
                "ServiceAccount": core.create_namespaced_service_account,
                "Role": rbac.create_namespaced_role,
                "RoleBinding": rbac.create_namespaced_role_binding,
            }.get(doc["kind"])
            if create is not None:  # the DaemonSet needs the service's image, which this cluster lacks
                create(namespace, doc)
    cluster = yaml.safe_load(open(procs.env["KUBECONFIG"]))["clusters"][0]["cluster"]

    def kubeconfig_of(account: str) -> str:
        token = core.create_namespaced_service_account_token(
            account, namespace, {"spec": {"expirationSeconds": 3600}}
        ).status.token
        path = tmp_path / f"{account}.kubeconfig"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "c", "cluster": cluster}],
                    "users": [{"name": account, "user": {"token": token}}],
                    "contexts": [{"name": "c", "context": {"cluster": "c", "user": account}}],
                    "current-context": "c",
                }
            )
        )
        return str(path)

    # A secret setting: its Secret is made (and the Job resumed) under the Role too; ${#TOKEN} is its length.
    m = manifest(command="sh -c 'echo out ${#TOKEN}; echo err >&2'", settings=[{"name": "TOKEN", "secret": True}])
    (tmp_path / f"{m['job']['name']}.TOKEN").write_text("abcd")
    job_id = queue(stores, m, image=BUSYBOX_IMAGE)
    procs.start(
        "-m",
        "ingest",
        "kubernetes-node",
        "--node",
        "localhost",
        log="agent.log",
        SPOOL_DIR=str(tmp_path / "agent-spool"),
        KUBECONFIG=kubeconfig_of("scale-node-agent"),
    )
    procs.start(
        "-m",
        "worker",
        "--engine",
        "kubernetes",
        "--node",
        "k8s-engine",
        "--poll",
        "0.2",
        log="engine.log",
        KUBECONFIG=kubeconfig_of("scale-worker"),
        KUBERNETES_SECRETS_DIR=str(tmp_path),
    )
    wait_until("the job to end", ended(stores, job_id), why=lambda: procs.log("engine.log"))
    assert job(stores, job_id)["status"] == "COMPLETED"
    got = wait_until(
        "both lines",
        lambda: (f := lines(es, settings, job_id)) and len(f) >= 2 and f,
        why=lambda: procs.log("agent.log"),
    )
    exe = stores.executions.get_execution(job_id=job_id, exe_num=1)
    # Two pipes written one right after the other: their order in the file is containerd's, not asserted here.
    assert sorted((d["stream"], d["message"], d["scale_job_type"]) for d in got) == [
        ("stderr", "err", exe.job_type.name),
        ("stdout", "out 4", exe.job_type.name),
    ]
    assert "Forbidden" not in procs.log("engine.log") + procs.log("agent.log")
