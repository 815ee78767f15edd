"""Attack: scrape the local worker's /metrics from another machine. It has no credential check, and it used to
listen on HOST (the API's address, 0.0.0.0 in production). It now listens on WORKER_METRICS_HOST, loopback by
default. (On Linux all of 127.0.0.0/8 reaches this machine: a socket on 0.0.0.0 answers 127.0.0.2, one on
127.0.0.1 does not.)"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.reliability.harness import ROOT, free_port, wait_until


def test_the_workers_metrics_stay_on_loopback_whatever_host_says(executor_api, tmp_path):
    port = free_port()
    api = executor_api("metrics-node")
    env = api.env(SPOOL_DIR=str(tmp_path / "worker-spool"), WORKER_METRICS_PORT=str(port), HOST="0.0.0.0")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("WORKER_METRICS_HOST", None)
    proc = subprocess.Popen(
        api.argv("--poll", "0.5"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def answers(address: str) -> bool:
            try:
                return httpx.get(f"http://{address}:{port}/metrics", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(lambda: answers("127.0.0.1"), 60, 0.2, "the worker's /metrics on loopback")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.2:{port}/metrics", timeout=5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
