"""An execution as a Kubernetes Job, and how a Job's and its pod's states map to Scale's outcomes (the JSON the
API server sends; the cluster tests in tests/kubernetes run them for real)."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.records import ClaimedExecution
from tests.factories import manifest
from worker.kube_job import (
    cluster_id_of,
    job_manifest,
    job_name,
    outcome,
    outputs_manifest,
    running_node,
    secret_keys_of,
)
from worker.kube_secrets import read_values, secret_keys, secret_manifest


def claimed(m: dict, **changes) -> ClaimedExecution:
    fields = dict(
        id=7,
        job_id=12,
        exe_num=2,
        cluster_id="scale_job_12x2",
        node="worker-1",
        job_type_name=m["job"]["name"],
        job_type_version="1.0.0",
        docker_image="scalelogs.local/python:1",
        manifest=m,
        input={"files": {}, "json": {"greeting": "a b; $(rm -rf /)"}},
        configuration={"settings": {"MODE": "fast"}},
        timeout=30,
        started=datetime.now(UTC),
        resources={"cpus": 0.25, "mem": 64.0, "disk": 0.0, "gpus": 1.0},
    )
    fields.update(changes)
    return ClaimedExecution(**fields)


def test_the_job_name_comes_from_the_cluster_id_and_back():
    assert job_name("scale_job_12x2") == "scale-job-12x2"
    assert cluster_id_of("scale-job-12x2") == cluster_id_of("scale-job-12x2-k9x7q") == "scale_job_12x2"
    assert cluster_id_of("other-job") is None


def test_the_manifest_command_inputs_settings_resources_and_timeout():
    m = manifest(
        command="python3 -c 'print(1)' ${GREETING} ${MODE}",
        json=[{"name": "greeting", "type": "string"}],
        settings=[{"name": "MODE"}],
        errors=[{"code": 3, "name": "bad-data", "category": "data"}],
    )
    body = job_manifest(claimed(m), pull_policy="Never")
    assert body["metadata"]["name"] == "scale-job-12x2"
    spec = body["spec"]
    assert spec["activeDeadlineSeconds"] == 30 and spec["backoffLimit"] == 0
    container = spec["template"]["spec"]["containers"][0]
    # One argument per placeholder, whatever the value holds: no shell ever sees it.
    assert container["command"] == ["python3", "-c", "print(1)", "a b; $(rm -rf /)", "fast"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["GREETING"] == "a b; $(rm -rf /)" and env["MODE"] == "fast" and env["OUTPUT_DIR"] == "/outputs"
    assert "PATH" not in env and "HOME" not in env  # the image's own, not the worker's
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "64Mi"},
        "limits": {"cpu": "250m", "memory": "64Mi", "nvidia.com/gpu": "1"},
    }
    assert container["image"] == "scalelogs.local/python:1" and container["imagePullPolicy"] == "Never"
    assert body["metadata"]["annotations"]["scalelogs.io/errors"] == '{"3": "bad-data"}'


def test_secret_settings_are_named_in_the_spec_never_valued(tmp_path):
    m = manifest(command="run", settings=[{"name": "api-key", "secret": True}, {"name": "MODE"}])
    (tmp_path / f"{m['job']['name']}.API_KEY").write_text("v@lue\n")
    values = read_values(tmp_path, m["job"]["name"], secret_keys(m))
    assert values == {"API_KEY": "v@lue\n"}  # the file's bytes as they are, like a mounted Secret's
    body = job_manifest(claimed(m, configuration={"settings": {"MODE": "fast"}}), secret_keys=sorted(values))
    env = body["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "scale-job-12x2", "key": "API_KEY"}}} in env
    assert "v@lue" not in str(body) and body["spec"]["suspend"] is True
    assert secret_keys_of(body) == ["API_KEY"]
    body["metadata"].update(namespace="ns", uid="u-1")
    secret = secret_manifest(body, values)
    assert secret["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "scale-job-12x2", "uid": "u-1"}
    ]
    assert secret["data"] == {"API_KEY": "dkBsdWUK"}
    assert job_manifest(claimed(m))["spec"]["suspend"] is False  # no values: nothing to wait for


def test_the_outputs_claim_is_mounted_by_the_executions_own_folder():
    m = manifest(command="run")
    m["job"]["interface"]["outputs"] = {"files": [{"name": "report", "pattern": "*.txt"}]}
    body = job_manifest(claimed(m), output_claim="scale-outputs")
    pod_spec = body["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["volumeMounts"] == [
        {"name": "outputs", "mountPath": "/outputs", "subPath": "scale_job_12x2"}
    ]
    assert pod_spec["volumes"] == [{"name": "outputs", "persistentVolumeClaim": {"claimName": "scale-outputs"}}]
    assert outputs_manifest(body) == {
        "job": {"interface": {"outputs": {"files": [{"name": "report", "pattern": "*.txt"}]}}}
    }
    assert job_manifest(claimed(m))["spec"]["template"]["spec"]["volumes"] == [{"name": "outputs", "emptyDir": {}}]


def job(*conditions: tuple[str, str], errors: str = '{"3": "bad-data"}') -> dict:
    return {
        "metadata": {"name": "scale-job-1x1", "annotations": {"scalelogs.io/errors": errors}},
        "status": {"conditions": [{"type": t, "status": "True", "reason": r} for t, r in conditions]},
    }


def pod(state: dict, reason: str | None = None, node: str = "localhost") -> dict:
    status: dict = {"containerStatuses": [{"name": "main", "state": state}]}
    if reason:
        status["reason"] = reason
    return {"spec": {"nodeName": node}, "status": status}


def test_outcomes():
    exited = lambda code, reason="Error": pod({"terminated": {"exitCode": code, "reason": reason}})  # noqa: E731
    assert outcome(job(), pod({"running": {}})) is None
    assert outcome(job(("Complete", "Completed")), exited(0)).status == "COMPLETED"
    failed = ("Failed", "BackoffLimitExceeded")
    assert outcome(job(failed), exited(3)).error == {"name": "bad-data"}
    assert outcome(job(failed), exited(4)).error is None  # algorithm-unknown
    assert outcome(job(failed), exited(137, "OOMKilled")).error == {"name": "resource-starvation"}
    assert outcome(job(("Failed", "DeadlineExceeded")), exited(143)).error == {"name": "timeout"}
    assert outcome(job(failed), pod({"terminated": {"exitCode": 137}}, reason="Evicted")).error == {"name": "node-lost"}
    assert outcome(job(failed), None).error == {"name": "node-lost"}
    deleted = {**exited(143), "metadata": {"deletionTimestamp": "2026-12-07T12:00:00Z"}}
    assert outcome(job(failed), deleted).error == {"name": "node-lost"}
    pull = outcome(job(), pod({"waiting": {"reason": "ErrImageNeverPull"}}))
    assert pull is not None and pull.error == {"name": "pull"} and pull.delete
    # A failure on its way (FailureTarget) is not an end yet: the pod still has to stop.
    assert outcome(job(("FailureTarget", "DeadlineExceeded")), pod({"running": {}})) is None


def test_the_node_is_known_once_the_container_runs():
    assert running_node(pod({"waiting": {"reason": "ContainerCreating"}})) is None
    assert running_node(pod({"running": {}}, node="node-a")) == "node-a"
    assert running_node(None) is None
