"""One execution as a Kubernetes batch/v1 Job, and how such a Job ended, both as the API's JSON (dicts).

The Job's name comes from the execution's cluster id (scale_job_12x1 -> scale-job-12x1): creating it again after a
worker died between creating it and recording it answers 409 instead of starting a second one. Its labels say
which execution it runs; its annotations carry the job type and the Seed errors by exit code, so a worker that
adopts it after a restart decides its outcome from the Job alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from jobs.output_rules import file_output_specs
from jobs.records import ClaimedExecution
from worker.job_process import command_argv, job_environment

MANAGED = "app.kubernetes.io/managed-by=scalelogs"
EXE_LABEL = "scalelogs.io/execution-id"
ANNOTATIONS = "scalelogs.io/"
OUTPUTS_ANNOTATION = ANNOTATIONS + "outputs"
CONTAINER = "main"
OUTPUT_DIR = "/outputs"
NOBODY = 65534
# Why a pod's container can't start because of its image (the kubelet's reasons).
PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"})


def job_name(cluster_id: str) -> str:
    return cluster_id.replace("_", "-")


def cluster_id_of(name: str) -> str | None:
    """The cluster id of a Job name (or of its pod's name, which adds a suffix); None when not one of ours."""
    m = re.match(r"scale-job-(\d+)x(\d+)(?:-|$)", name)
    return f"scale_job_{m.group(1)}x{m.group(2)}" if m else None


def resources(claimed: ClaimedExecution) -> dict:
    """Scale's resources as requests and limits: CPU and memory requested and capped, GPUs as a limit (extended
    resources take no separate request), disk as ephemeral storage."""
    r = claimed.resources or {}
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if r.get("cpus"):
        requests["cpu"] = limits["cpu"] = f"{max(1, round(r['cpus'] * 1000))}m"
    if r.get("mem"):
        requests["memory"] = limits["memory"] = f"{max(1, round(r['mem']))}Mi"
    if r.get("disk"):
        requests["ephemeral-storage"] = f"{max(1, round(r['disk']))}Mi"
    if r.get("gpus"):
        limits["nvidia.com/gpu"] = str(round(r["gpus"]))
    return {"requests": requests, "limits": limits}


def job_manifest(
    claimed: ClaimedExecution,
    *,
    pull_policy: str = "IfNotPresent",
    ttl_seconds: int = 3600,
    output_claim: str | None = None,
    secret_keys: Sequence[str] = (),
) -> dict:
    """The Job running one execution: the job type's image, the manifest's command with its inputs put in, the
    inputs and settings as environment, resources, the timeout as activeDeadlineSeconds, one try (retries are
    Scale's: a new execution), and the outputs folder as a volume. Finished Jobs stay ttl_seconds, so the node
    agent can still read the last lines of their pods' logs.

    output_claim: the execution's own folder (subPath) of that PersistentVolumeClaim is its OUTPUT_DIR, where the
    engine finds the files after the Job ends (None: an emptyDir, gone with the pod). secret_keys: variables
    taken from the Secret of the Job's own name (worker/kube_secrets.py), never written here; such a Job starts
    suspended and is resumed once that Secret exists."""
    env = job_environment(claimed, OUTPUT_DIR, inherit=False)
    interface = (claimed.manifest.get("job") or {}).get("interface") or {}
    argv = command_argv(interface.get("command") or "", env)
    if not argv:
        raise ValueError("the manifest has no interface.command")
    errors = {str(e["code"]): e["name"] for e in (claimed.manifest.get("job") or {}).get("errors") or [] if "code" in e}
    labels = {
        "app.kubernetes.io/managed-by": "scalelogs",
        EXE_LABEL: str(claimed.id),
        "scalelogs.io/job-id": str(claimed.job_id),
        "scalelogs.io/exe-num": str(claimed.exe_num),
    }
    annotations = {
        ANNOTATIONS + "cluster-id": claimed.cluster_id,
        ANNOTATIONS + "job-type": claimed.job_type_name,
        ANNOTATIONS + "job-type-version": claimed.job_type_version,
        ANNOTATIONS + "errors": json.dumps(errors),
        # The file outputs, so that an adopting engine can report them.
        OUTPUTS_ANNOTATION: json.dumps(file_output_specs(claimed.manifest)),
    }
    name = job_name(claimed.cluster_id)
    secret_env = [{"name": k, "valueFrom": {"secretKeyRef": {"name": name, "key": k}}} for k in secret_keys]
    mount: dict = {"name": "outputs", "mountPath": OUTPUT_DIR}
    volume: dict = {"name": "outputs", "emptyDir": {}}
    if output_claim:
        mount["subPath"] = claimed.cluster_id
        volume = {"name": "outputs", "persistentVolumeClaim": {"claimName": output_claim}}
    container = {
        "name": CONTAINER,
        "image": claimed.docker_image,
        "imagePullPolicy": pull_policy,
        "command": argv,
        "env": [{"name": k, "value": v} for k, v in sorted(env.items()) if k not in secret_keys] + secret_env,
        "resources": resources(claimed),
        "volumeMounts": [mount],
        "securityContext": {
            "runAsUser": NOBODY,
            "runAsGroup": NOBODY,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "spec": {
            "suspend": bool(secret_keys),
            "backoffLimit": 0,
            "activeDeadlineSeconds": claimed.timeout,
            "ttlSecondsAfterFinished": ttl_seconds,
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 3,
                    "containers": [container],
                    "volumes": [volume],
                },
            },
        },
    }


def outputs_manifest(job: dict) -> dict:
    """A manifest holding just the Job's file outputs (its annotation), enough to match files to them."""
    files = json.loads(((job.get("metadata") or {}).get("annotations") or {}).get(OUTPUTS_ANNOTATION) or "[]")
    return {"job": {"interface": {"outputs": {"files": files}}}}


def secret_keys_of(job: dict) -> list[str]:
    """The variables the Job's container takes from its own Secret."""
    name = job["metadata"]["name"]
    keys = []
    for container in job["spec"]["template"]["spec"]["containers"]:
        for var in container.get("env") or []:
            ref = (var.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") == name:
                keys.append(ref["key"])
    return keys


@dataclass(frozen=True)
class Outcome:
    status: str  # COMPLETED or FAILED
    error: dict | None = None  # {"name": ...} of a Seed or system error; None with FAILED: algorithm-unknown
    delete: bool = False  # the Job still holds a pod that will never run (an image that can't be pulled)


def _true_conditions(job: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (job.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}


def main_state(pod: dict | None) -> dict:
    """The job container's state ({"running": ...}, {"terminated": ...}, {"waiting": ...}), or {}."""
    for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == CONTAINER:
            return status.get("state") or {}
    return {}


def pull_failure(pod: dict | None) -> str | None:
    waiting = main_state(pod).get("waiting") or {}
    return waiting.get("reason") if waiting.get("reason") in PULL_REASONS else None


def outcome(job: dict, pod: dict | None) -> Outcome | None:
    """How the Job ended, or None while it runs. `pod` is its pod as last read (None: there is none)."""
    conditions = _true_conditions(job)
    if "Complete" in conditions:
        return Outcome("COMPLETED")
    failed = conditions.get("Failed")
    if failed is None:
        if pull_failure(pod):
            return Outcome("FAILED", {"name": "pull"}, delete=True)
        return None
    if failed.get("reason") == "DeadlineExceeded":
        return Outcome("FAILED", {"name": "timeout"})
    if ((pod or {}).get("status") or {}).get("reason") == "Evicted":
        return Outcome("FAILED", {"name": "node-lost"})  # the node could not keep it: retried like a lost node
    if ((pod or {}).get("metadata") or {}).get("deletionTimestamp"):
        return Outcome("FAILED", {"name": "node-lost"})  # deleted while it ran (its exit code is the kill's)
    terminated = main_state(pod).get("terminated")
    if terminated is None:  # the pod was deleted, or its node lost, before the job ended
        return Outcome("FAILED", {"name": "node-lost"})
    if terminated.get("reason") == "OOMKilled":
        return Outcome("FAILED", {"name": "resource-starvation"})
    errors = json.loads(((job.get("metadata") or {}).get("annotations") or {}).get(ANNOTATIONS + "errors") or "{}")
    name = errors.get(str(terminated.get("exitCode")))
    return Outcome("FAILED", {"name": name} if name else None)


def running_node(pod: dict | None) -> str | None:
    """The node the pod runs on once its container runs (or ran)."""
    if pod is None or not ({"running", "terminated"} & set(main_state(pod))):
        return None
    return (pod.get("spec") or {}).get("nodeName")
