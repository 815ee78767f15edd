"""What a Kubernetes Job writes to OUTPUT_DIR is reported as its execution's files, read from the claim its pod
wrote to; settings the manifest marks secret reach the job through a Secret of the Job's own, never through
its spec or a log line."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path

import pytest
from kubernetes import client

from tests.factories import manifest
from tests.kubernetes.conftest import BUSYBOX_IMAGE, kube_jobs, queue, wait_until
from tests.kubernetes.test_engine import ended, job, lines, python_command
from worker.kube_job import MANAGED, job_manifest


@pytest.fixture
def output_claim(kube_api, namespace, tmp_path) -> str:
    """A claim on a hostPath volume of tmp_path/outputs: on one node, the folder the engine reads is the one the
    pods write to (a multi-node cluster needs a ReadWriteMany volume the engine mounts too)."""
    core = client.CoreV1Api(kube_api)
    pv = f"{namespace}-outputs"
    core.create_persistent_volume(
        {
            "metadata": {"name": pv},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": str(tmp_path / "outputs"), "type": "DirectoryOrCreate"},
                "claimRef": {"namespace": namespace, "name": "outputs"},
            },
        }
    )
    try:
        core.create_namespaced_persistent_volume_claim(
            namespace,
            {
                "metadata": {"name": "outputs"},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "",
                    "volumeName": pv,
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
        yield "outputs"
    finally:
        core.delete_persistent_volume(pv)


WRITES = "sh -c 'echo report > $OUTPUT_DIR/report.txt; mkdir $OUTPUT_DIR/tiles; printf abc > $OUTPUT_DIR/tiles/t1.png'"


def test_files_a_job_writes_to_its_output_dir_are_reported(stores, procs, make_client, output_claim, tmp_path):
    m = manifest(command=WRITES)
    m["job"]["interface"]["outputs"] = {
        "files": [{"name": "report", "pattern": "*.txt"}, {"name": "tiles", "pattern": "tiles/*.png", "multiple": True}]
    }
    job_id = queue(stores, m, image=BUSYBOX_IMAGE)
    procs.engine(WORKER_OUTPUT_DIR=str(tmp_path / "outputs"), KUBERNETES_OUTPUT_CLAIM=output_claim)
    wait_until("the job to end", ended(stores, job_id), why=lambda: procs.log("engine.log"))
    assert job(stores, job_id)["status"] == "COMPLETED"
    r = make_client().simulate_get(f"/v6/files/?job_id={job_id}", headers={"Accept": "application/json"})
    cluster_id = f"scale_job_{job_id}x1"
    files = {f["file_path"]: f for f in r.json["results"]}
    assert {p: (f["file_size"], f["media_type"], f["job_output"]) for p, f in files.items()} == {
        f"{cluster_id}/report.txt": (7, "text/plain", "report"),
        f"{cluster_id}/tiles/t1.png": (3, "image/png", "tiles"),
    }
    # The files stay where their records say (the workspace's folder), after the pod is gone.
    assert (tmp_path / "outputs" / cluster_id / "report.txt").read_text() == "report\n"
    detail = make_client().simulate_get(f"/v6/jobs/{job_id}/").json
    assert detail["output"]["files"] == {
        "report": [files[f"{cluster_id}/report.txt"]["id"]],
        "tiles": [files[f"{cluster_id}/tiles/t1.png"]["id"]],
    }


def test_a_secret_setting_reaches_the_job_but_not_its_spec_nor_a_log(
    stores, es, settings, procs, kube_api, namespace, tmp_path
):
    value = "s3cr3t-" + secrets.token_hex(8)
    m = manifest(
        command=python_command(
            "import hashlib, os\n"
            "print('hash', hashlib.sha256(os.environ['API_KEY'].encode()).hexdigest())\n"
            "print('plain', os.environ['MODE'])\n"
        ),
        settings=[{"name": "API_KEY", "secret": True}, {"name": "MODE"}],
    )
    job_id = queue(stores, m, configuration={"settings": {"API_KEY": value, "MODE": "fast"}})
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / f"{m['job']['name']}.API_KEY").write_text(value)
    procs.agent()
    procs.engine(KUBERNETES_SECRETS_DIR=str(secrets_dir))
    wait_until("the Kubernetes Job", lambda: kube_jobs(kube_api, namespace), why=lambda: procs.log("engine.log"))
    spec = json.dumps(kube_jobs(kube_api, namespace)[0])  # the Job as the API has it
    owned = client.CoreV1Api(kube_api).read_namespaced_secret(f"scale-job-{job_id}x1", namespace)
    wait_until("the job to end", ended(stores, job_id), why=lambda: procs.log("engine.log"))
    assert job(stores, job_id)["status"] == "COMPLETED"
    got = wait_until("both lines", lambda: (f := lines(es, settings, job_id)) and len(f) >= 2 and f)
    assert [d["message"] for d in got] == ["hash " + hashlib.sha256(value.encode()).hexdigest(), "plain fast"]
    assert value not in spec and '"secretKeyRef"' in spec and '"fast"' in spec
    assert [(o.kind, o.name) for o in owned.metadata.owner_references] == [("Job", f"scale-job-{job_id}x1")]
    logs = (tmp_path / "engine.log").read_text() + (tmp_path / "agent.log").read_text()
    assert f"scale-job-{job_id}x1" in logs and value not in logs
    assert value not in json.dumps(got)
    # Owned by the Job: the garbage collector deletes it with the Job.
    client.BatchV1Api(kube_api).delete_namespaced_job(
        f"scale-job-{job_id}x1", namespace, propagation_policy="Foreground"
    )
    wait_until(
        "the Secret to go with its Job",
        lambda: not client.CoreV1Api(kube_api).list_namespaced_secret(namespace, label_selector=MANAGED).items,
    )


def secret_job(stores, tmp_path, value: str | None) -> tuple[int, Path]:
    """A queued job whose API_KEY setting is secret, its value in a secrets folder (none when value is None)."""
    m = manifest(
        command=python_command(
            "import hashlib, os\nprint('hash', hashlib.sha256(os.environ['API_KEY'].encode()).hexdigest())\n"
        ),
        settings=[{"name": "API_KEY", "secret": True}],
    )
    job_id = queue(stores, m, configuration={"settings": {"API_KEY": value or "gone"}})
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    if value is not None:
        (secrets_dir / f"{m['job']['name']}.API_KEY").write_text(value)
    return job_id, secrets_dir


def stopped_before_its_secret(stores, kube_api, namespace) -> str:
    """What an engine killed between creating a suspended Job and its Secret leaves behind, made with the engine's
    own claim and manifest: the execution RUNNING on the engine's node under a lease, its Job suspended, no
    Secret. Returns the Job's name."""
    claimed = stores.executions.claim_next_queued("k8s-engine", 60)
    body = job_manifest(claimed, pull_policy="Never", secret_keys=["API_KEY"])
    assert body["spec"]["suspend"] is True
    client.BatchV1Api(kube_api).create_namespaced_job(namespace, body)
    assert not client.CoreV1Api(kube_api).list_namespaced_secret(namespace, label_selector=MANAGED).items
    return body["metadata"]["name"]


def test_an_engine_stopped_before_a_jobs_secret_makes_it_and_resumes_the_job_when_restarted(
    stores, es, settings, procs, kube_api, namespace, tmp_path
):
    value = "s3cr3t-" + secrets.token_hex(8)
    job_id, secrets_dir = secret_job(stores, tmp_path, value)
    name = stopped_before_its_secret(stores, kube_api, namespace)
    procs.agent()
    procs.engine(KUBERNETES_SECRETS_DIR=str(secrets_dir))
    wait_until("the job to end", ended(stores, job_id), why=lambda: procs.log("engine.log"))
    assert job(stores, job_id)["status"] == "COMPLETED"
    got = wait_until("the line", lambda: lines(es, settings, job_id))
    assert [d["message"] for d in got] == ["hash " + hashlib.sha256(value.encode()).hexdigest()]
    # The adopted Job ran: no second Job, one execution, and the Secret is the Job's own.
    assert [j["metadata"]["name"] for j in kube_jobs(kube_api, namespace)] == [name]
    assert job(stores, job_id)["num_exes"] == 1
    owned = client.CoreV1Api(kube_api).read_namespaced_secret(name, namespace)
    assert [(o.kind, o.name) for o in owned.metadata.owner_references] == [("Job", name)]
    engine_log = (tmp_path / "engine.log").read_text()
    assert "adopted 1 Kubernetes Jobs" in engine_log and value not in engine_log


def test_a_suspended_job_whose_secret_value_is_gone_is_deleted_and_its_execution_fails_to_launch(
    stores, procs, kube_api, namespace, tmp_path
):
    job_id, secrets_dir = secret_job(stores, tmp_path, None)
    name = stopped_before_its_secret(stores, kube_api, namespace)
    procs.engine(KUBERNETES_SECRETS_DIR=str(secrets_dir))
    wait_until(
        "the first execution to end",
        lambda: stores.executions.get_execution(job_id=job_id, exe_num=1).status != "RUNNING",
        why=lambda: procs.log("engine.log"),
    )
    first = stores.executions.get_execution(job_id=job_id, exe_num=1)
    assert (first.status, first.error.name) == ("FAILED", "task-launch")  # a system error: retried
    wait_until(
        "its Job deleted",
        lambda: name not in [j["metadata"]["name"] for j in kube_jobs(kube_api, namespace)],
        why=lambda: procs.log("engine.log"),
    )
    assert not client.CoreV1Api(kube_api).list_namespaced_secret(namespace, label_selector=MANAGED).items
