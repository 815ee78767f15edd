"""The Kubernetes engine (`python -m worker --engine kubernetes`): queued jobs run as batch/v1 Jobs.

Loop: claim QUEUED jobs through the service's executor routes as the local worker does (worker/executor_client.py,
an executor token, no database credential; several replicas may run), create one Job per
execution under a name made from its cluster id (worker/kube_job.py), and follow Jobs and their pods through two
watches (worker/kube_watch.py), never by polling them:
  - the pod's container runs: the execution's node becomes the pod's node;
  - the Job completes: COMPLETED; it fails: FAILED with the Seed error of the exit code, or a system error for a
    timeout (activeDeadlineSeconds), an OOM kill (resource-starvation), an eviction or a pod deleted before it
    ended (node-lost, retried while tries remain); an image that can't be pulled: pull, and the Job is deleted.
Leases: every execution the engine follows is leased to it and renewed together; an execution found no longer
RUNNING at a renewal (canceled, or failed by the service when its lease ran out) has its Job deleted (foreground
propagation: its pod goes first).

A restarted engine adopts the Jobs it finds (by label) whose executions are still RUNNING, deletes the running
Jobs of executions that ended meanwhile, and fails (node-lost) the executions it had claimed but whose Job was
never created. So a worker that dies between creating a Job and recording it never creates a second one: the
name is taken and the Job is found.

Logs are not read here: the node agent (`python -m ingest kubernetes-node`) ships them from the kubelet's files.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from core import metrics
from jobs.errors import JobStateConflict
from jobs.records import OutputFile
from worker.executor_client import Executions
from worker.kube_job import (
    ANNOTATIONS,
    EXE_LABEL,
    MANAGED,
    Outcome,
    job_manifest,
    job_name,
    outcome,
    outputs_manifest,
    running_node,
    secret_keys_of,
)
from worker.kube_secrets import read_values, secret_keys, secret_manifest
from worker.kube_watch import Watcher, call_json
from worker.outputs import Outputs, finish_with_files

log = logging.getLogger("worker")

LOST_ERROR = "node-lost"
RENEW_EVERY = 1.0  # seconds between lease renewals (also how soon a cancel reaches the cluster)


def api_client(kubeconfig: str | None) -> client.ApiClient:
    """A client of the cluster: from a kubeconfig file, else the pod's own service account (in the cluster)."""
    from kubernetes import config

    if kubeconfig:
        return config.new_client_from_config(config_file=kubeconfig)
    config.load_incluster_config()
    return client.ApiClient()


@dataclass
class Followed:
    exe_id: int
    name: str
    job: dict | None = None
    pod: dict | None = None
    node: str | None = None  # recorded in the database already
    created: float = field(default_factory=time.monotonic)


class KubernetesEngine:
    def __init__(
        self,
        executions: Executions,
        api: client.ApiClient,
        namespace: str,
        node: str,
        *,
        lease_seconds: float = 60.0,
        pull_policy: str = "IfNotPresent",
        ttl_seconds: int = 3600,
        max_running: int = 100,
        outputs: Outputs | None = None,
        output_claim: str | None = None,
        secrets_dir: Path | None = None,
    ):
        self.executions = executions
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.node = node
        self.lease_seconds = lease_seconds
        self.pull_policy = pull_policy
        self.ttl_seconds = ttl_seconds
        self.max_running = max_running
        # Outputs: the claim every job pod writes its OUTPUT_DIR to, mounted here at outputs.root (both or neither).
        self.outputs = outputs if output_claim else None
        self.output_claim = output_claim if outputs else None
        self.secrets_dir = secrets_dir
        self.followed: dict[str, Followed] = {}  # by Job name
        self.events: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        self.created = 0  # Jobs this engine created (not adopted)
        self._watchers: list[Watcher] = []
        self._renewed = 0.0

    # --- start and stop

    def recover(self) -> None:
        """Adopt the Jobs of RUNNING executions; delete those of ended ones; fail executions claimed here whose
        Job was never created."""
        found = call_json(self.batch.list_namespaced_job, self.namespace, label_selector=MANAGED).get("items") or []
        by_exe = {int(j["metadata"]["labels"][EXE_LABEL]): j for j in found}
        ended = self.executions.renew_leases(list(by_exe), self.lease_seconds)
        for exe_id, job in by_exe.items():
            name = job["metadata"]["name"]
            if exe_id in ended:
                if outcome(job, None) is None and not job["metadata"].get("deletionTimestamp"):
                    self._delete(name)
                continue
            self.followed[name] = Followed(exe_id, name, job=job)
            if job["spec"].get("suspend") and not self._release(job, self._values_of(job)):
                self._not_launched(name)  # created, but the engine stopped before it made its Secret
        adopted = {f.exe_id for f in self.followed.values()}
        lost = 0
        for exe_id in self.executions.running_on(self.node):
            if exe_id not in adopted:
                lost += self._finish(exe_id, Outcome("FAILED", {"name": LOST_ERROR}))
        if self.followed or lost:
            log.warning("adopted %d Kubernetes Jobs; %d executions had no Job", len(self.followed), lost)

    def stop(self) -> None:
        """Stop following: the Jobs go on running and a restarted engine adopts them."""
        self.stopping.set()

    # --- the loop

    def run_forever(self, poll: float = 1.0, once: bool = False) -> None:
        self._watchers = [
            Watcher("job", self.batch.list_namespaced_job, self.namespace, MANAGED, self.events),
            Watcher("pod", self.core.list_namespaced_pod, self.namespace, MANAGED, self.events),
        ]
        for w in self._watchers:
            w.start()
        claimed_one = False
        try:
            while not self.stopping.is_set():
                if not (once and claimed_one) and len(self.followed) < self.max_running and self._claim():
                    claimed_one = True
                    continue  # claim what is queued before waiting for events
                self._renew()
                self._drain(poll)
                if once and claimed_one and not self.followed:
                    return
        finally:
            for w in self._watchers:
                w.stop()

    def _claim(self) -> bool:
        try:
            claimed = self.executions.claim_next_queued(self.node, self.lease_seconds)
        except Exception as exc:  # the service is unreachable past the client's retries: the next round tries
            metrics.DATABASE_ERRORS.labels("worker").inc()
            log.warning("could not claim a job: %s", exc)
            return False
        if claimed is None:
            return False
        metrics.WORKER_CLAIMS.inc()
        name = job_name(claimed.cluster_id)
        try:
            values = read_values(self.secrets_dir, claimed.job_type_name, secret_keys(claimed.manifest))
            body = job_manifest(
                claimed,
                pull_policy=self.pull_policy,
                ttl_seconds=self.ttl_seconds,
                output_claim=self.output_claim,
                secret_keys=sorted(values),
            )
            if self.outputs is not None:
                # The pod writes as its own user (kube_job.NOBODY), into its folder only (subPath).
                self.outputs.directory(claimed).chmod(0o777)
        except (ValueError, OSError) as exc:
            log.warning("execution %s can't run: %s", claimed.id, exc)
            self._finish(claimed.id, Outcome("FAILED", None))
            return True
        self.followed[name] = Followed(claimed.id, name)
        try:
            # The API's JSON as it is, both ways.
            created = call_json(self.batch.create_namespaced_job, self.namespace, cast(Any, body))
            self.created += 1
            if values and not self._release(created, values):
                self._not_launched(name)
        except ApiException as exc:
            if exc.status != 409:  # 409: created before a crash; the watch shows it
                log.warning("could not create Job %s: %s", name, exc)
                del self.followed[name]
                self._finish(claimed.id, Outcome("FAILED", {"name": "task-launch"}))
                return True
        log.info("job %s execution %s: Kubernetes Job %s", claimed.job_id, claimed.id, name)
        return True

    def _drain(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            try:
                kind, change, obj = self.events.get(timeout=max(0.0, min(left, RENEW_EVERY)))
            except queue.Empty:
                return
            self._event(kind, change, obj)
            if self.events.empty() and time.monotonic() >= deadline:
                return
            if time.monotonic() - self._renewed >= RENEW_EVERY:
                self._renew()

    def _event(self, kind: str, change: str, obj) -> None:
        if change == "LIST":  # after a (re-)list: everything there is, and what is gone
            present = {self._job_name_of(kind, o): o for o in obj}
            for name, followed in list(self.followed.items()):
                item = present.get(name)
                if item is None and kind == "job" and time.monotonic() - followed.created > 10:
                    self._gone(followed)
                elif item is not None:
                    self._update(kind, followed, item)
            return
        one = self.followed.get(self._job_name_of(kind, obj) or "")
        if one is None:
            return
        if change == "DELETED" and kind == "job":
            self._gone(one)
            return
        self._update(kind, one, obj)

    @staticmethod
    def _job_name_of(kind: str, obj: dict) -> str | None:
        """A Job's name, or the name of the Job a pod belongs to (the Job controller's label)."""
        if kind == "job":
            return obj["metadata"]["name"]
        return (obj["metadata"].get("labels") or {}).get("job-name")

    def _update(self, kind: str, followed: Followed, obj: dict) -> None:
        if kind == "job":
            followed.job = obj
        else:
            followed.pod = obj
            node = running_node(obj)
            if node and node != followed.node and self.executions.move_to_node(followed.exe_id, node):
                followed.node = node
        if followed.job is None:
            return
        result = outcome(followed.job, followed.pod)
        if result is not None and result.status == "FAILED" and result.error and result.error["name"] == LOST_ERROR:
            # The pod seen last may be older than the Job's condition: read it again before calling it lost.
            followed.pod = self._read_pod(followed.name) or followed.pod
            result = outcome(followed.job, followed.pod)
        if result is None:
            return
        if result.delete:
            self._delete(followed.name)
        del self.followed[followed.name]
        self._finish(followed.exe_id, result, self._collect(followed))

    def _gone(self, followed: Followed) -> None:
        """The Job was deleted by someone else before it ended (or before the engine saw it end)."""
        del self.followed[followed.name]
        self._finish(followed.exe_id, Outcome("FAILED", {"name": LOST_ERROR}), self._collect(followed))

    def _collect(self, followed: Followed) -> list[OutputFile]:
        """What the pod wrote to its folder of the outputs claim (its container has ended: the files are whole)."""
        if self.outputs is None or followed.job is None:
            return []
        cluster_id = followed.job["metadata"]["annotations"][ANNOTATIONS + "cluster-id"]
        directory = self.outputs.root / cluster_id  # none when the pod wrote nothing: no files
        return self.outputs.collect_files(followed.exe_id, cluster_id, outputs_manifest(followed.job), directory)

    # --- secrets

    def _not_launched(self, name: str) -> None:
        """A suspended Job whose Secret could not be made: deleted, its execution a task-launch error."""
        self._delete(name)
        self._finish(self.followed.pop(name).exe_id, Outcome("FAILED", {"name": "task-launch"}))

    def _values_of(self, job: dict) -> dict[str, str]:
        job_type = job["metadata"]["annotations"][ANNOTATIONS + "job-type"]
        return read_values(self.secrets_dir, job_type, secret_keys_of(job))

    def _release(self, job: dict, values: dict[str, str]) -> bool:
        """Create the suspended Job's Secret (owned by it), then resume it. Only statuses are logged: an error's
        body could echo the values."""
        name = job["metadata"]["name"]
        if set(values) != set(secret_keys_of(job)):
            log.warning("Job %s: a secret value is no longer in the secrets folder", name)
            return False
        try:
            self.core.create_namespaced_secret(self.namespace, cast(Any, secret_manifest(job, values)))
        except ApiException as exc:
            if exc.status != 409:  # 409: made before a restart
                log.warning("could not create the Secret of Job %s: HTTP %s %s", name, exc.status, exc.reason)
                return False
        try:
            self.batch.patch_namespaced_job(name, self.namespace, {"spec": {"suspend": False}})
        except ApiException as exc:
            log.warning("could not resume Job %s: HTTP %s %s", name, exc.status, exc.reason)
            return False
        return True

    def _read_pod(self, name: str) -> dict | None:
        try:
            body = call_json(self.core.list_namespaced_pod, self.namespace, label_selector=f"job-name={name}")
        except ApiException:
            return None
        items = body.get("items") or []
        return items[-1] if items else None

    def _renew(self) -> None:
        """Renew the leases of every followed execution; delete the Jobs of those that ended elsewhere."""
        self._renewed = time.monotonic()
        if not self.followed:
            return
        try:
            ended = self.executions.renew_leases([f.exe_id for f in self.followed.values()], self.lease_seconds)
        except Exception as exc:  # the service is unreachable: the Jobs go on, the next round tries again
            metrics.DATABASE_ERRORS.labels("worker").inc()
            log.warning("could not renew the leases: %s", exc)
            return
        for followed in [f for f in self.followed.values() if f.exe_id in ended]:
            log.info("execution %s ended elsewhere (canceled): deleting Job %s", followed.exe_id, followed.name)
            self._delete(followed.name)
            del self.followed[followed.name]

    def _delete(self, name: str) -> None:
        try:
            self.batch.delete_namespaced_job(
                name, self.namespace, body=client.V1DeleteOptions(propagation_policy="Foreground")
            )
        except ApiException as exc:
            if exc.status != 404:
                log.warning("could not delete Job %s: %s", name, exc)

    def _finish(self, exe_id: int, result: Outcome, files: list[OutputFile] | None = None) -> int:
        try:
            new_status = finish_with_files(self.executions, exe_id, result.status, result.error, files or ())
        except JobStateConflict as exc:
            log.info("execution %s ended elsewhere: %s", exe_id, exc)
            return 0
        metrics.WORKER_RUNS.labels(result.status).inc()
        log.info("execution %s: %s %s -> job %s", exe_id, result.status, result.error or "", new_status)
        return 1
