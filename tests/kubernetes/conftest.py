"""The Kubernetes tier (`-m kubernetes`): a real one-node cluster (scripts/kubernetes), the engine and the node
agent as real processes, the suite's Elasticsearch, and a namespace of each test's own.

The cluster is the one running (CI starts it with scripts/kubernetes start before the tier) or, when none runs,
one started here for the session and stopped after it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.factories import manifest
from tests.live_api import ExecutorApi

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kubernetes"
PYTHON_IMAGE = "scalelogs.local/python:1"
BUSYBOX_IMAGE = "scalelogs.local/busybox:1"


def k8s_home() -> Path:
    return Path(os.environ.get("K8S_HOME") or Path(os.environ.get("DATA_DIR") or ROOT / "data") / "kubernetes")


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    status = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True, cwd=ROOT)
    if status.returncode == 0:
        yield status.stdout.strip()
        return
    started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert started.returncode == 0, started.stderr
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="session")
def kube_api(kubeconfig) -> client.ApiClient:
    api = config.new_client_from_config(config_file=kubeconfig)
    yield api
    api.close()


@pytest.fixture
def namespace(kube_api) -> str:
    name = f"scale-test-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube_api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name, propagation_policy="Background", grace_period_seconds=0)


def kube_jobs(kube_api, namespace: str) -> list[dict]:
    resp = client.BatchV1Api(kube_api).list_namespaced_job(namespace, _preload_content=False)
    return json.loads(resp.data)["items"]


class Processes:
    """The engine and node agent processes of one test, started and stopped (by pid) by it."""

    def __init__(self, kubeconfig: str, namespace: str, tmp_path: Path, api: ExecutorApi):
        self.tmp_path = tmp_path
        # The engine talks to the served app with an executor token (no DATABASE_URL); the node agent needs no
        # database either.
        self.env = api.env(
            LOG_FORMAT="text",
            KUBECONFIG=kubeconfig,
            KUBERNETES_NAMESPACE=namespace,
            KUBERNETES_IMAGE_PULL_POLICY="Never",
            KUBERNETES_POD_LOGS_DIR=str(k8s_home() / "pod-logs"),
            KUBERNETES_AGENT_DIR=str(tmp_path / "agent-state"),
        )
        self.running: list[subprocess.Popen] = []

    def start(self, *argv: str, log: str, **env: str) -> subprocess.Popen:
        with open(self.tmp_path / log, "ab") as out:
            p = subprocess.Popen(
                [sys.executable, *argv], cwd=ROOT, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT
            )
        self.running.append(p)
        return p

    def engine(self, **env: str) -> subprocess.Popen:
        return self.start(
            "-m", "worker", "--engine", "kubernetes", "--node", "k8s-engine", "--poll", "0.2", log="engine.log", **env
        )

    def agent(self) -> subprocess.Popen:
        return self.start(
            "-m",
            "ingest",
            "kubernetes-node",
            "--node",
            "localhost",
            log="agent.log",
            SPOOL_DIR=str(self.tmp_path / "agent-spool"),
        )

    def log(self, name: str) -> str:
        path = self.tmp_path / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self, p: subprocess.Popen) -> None:
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop_all(self) -> None:
        for p in self.running:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.running:
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill(p)


@pytest.fixture
def procs(kubeconfig, namespace, tmp_path, executor_api) -> Processes:
    p = Processes(kubeconfig, namespace, tmp_path, executor_api("k8s-engine", bound=False))
    yield p
    p.stop_all()


def wait_until(what: str, condition, timeout: float = 90, why=lambda: "") -> object:
    """Poll condition until it returns something true, within a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{why()}"
        time.sleep(0.1)


def k8s_manifest(command: str, **kw) -> dict:
    return manifest(command=command, **kw)


def queue(stores, m: dict, image: str = PYTHON_IMAGE, **kw) -> int:
    job_type, _ = stores.job_types.save_job_type(image, m, kw.get("configuration"))
    return stores.jobs.create_job(job_type.id, kw.get("input") or {"files": {}, "json": {}})
