"""`python -m bench.kube_bench [--jobs N] [--seconds S] [--rate R]` (`make bench-kube`): the Kubernetes engine
beside the local one, on the one-node cluster of scripts/kubernetes (started here when none runs, and stopped
after; not part of `make bench`, which needs no cluster).

Two measures, each through both engines as real processes deployed as in production: the API under gunicorn
(2 workers, its lease expiry and log route), and beside it `python -m worker --engine kubernetes` with the node
agent `python -m ingest kubernetes-node`, or `python -m worker`, one local worker as deployed by default. The
engines hold only an executor token (node-bound for the local worker, for every node for the Kubernetes engine)
and reach the jobs and the log route through the API (SCALE_API_URL, EXECUTOR_TOKEN_FILE), never the database
or Elasticsearch:
- **jobs per minute**: N jobs of `echo; sleep 1` queued at once, from the first queued to the last COMPLETED;
- **line to searchable**: a job printing R lines/s for S seconds (batches of R/100 lines, each stamped with the
  time it is written, flushed at once); the bench searches Elasticsearch every POLL seconds for lines it has
  not seen, and a line's latency is the time the search that first returned it answered minus its stamp
  (an upper bound, by up to one search's time). The pod and the bench share the host's clock (one node).

Prints the JSON and writes it to bench/results/kube.json. The machine is shared: `machine.load_avg_*` says how
busy it was at the start and the end; read the figures with that in mind.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, cast

from bench.harness import ROOT, Gunicorn, elasticsearch, es_client, log, machine

SCRIPT = ROOT / "scripts" / "kubernetes"
BUSYBOX = "scalelogs.local/busybox:1"
PYTHON = "scalelogs.local/python:1"
POLL = 0.1
PREFIX = "benchkube"  # + the engine's name

# Prints `rate` lines a second for `seconds`, in batches of a hundredth of a second, each line "<i> <stamp>".
PRINTER = """
import sys, time
rate, seconds = {rate}, {seconds}
batch = max(1, rate // 100)
out = sys.stdout
start = time.time()
i = 0
while i < rate * seconds:
    due = start + i / rate
    now = time.time()
    if due > now:
        time.sleep(due - now)
    stamp = time.time()
    out.write("".join(f"{{n}} {{stamp:.6f}}\\n" for n in range(i, i + batch)))
    out.flush()
    i += batch
"""


def seed(name: str, command: str, timeout: int = 600) -> dict:
    return {
        "seedVersion": "1.0.0",
        "job": {
            "name": name,
            "jobVersion": "1.0.0",
            "packageVersion": "1.0.0",
            "title": name,
            "description": "kube bench",
            "timeout": timeout,
            "interface": {"command": command, "inputs": {"files": [], "json": []}, "settings": []},
            "errors": [],
        },
    }


def python_command(python: str, code: str) -> str:
    return python + " -c " + "'" + code.replace("'", "'\"'\"'") + "'"


@contextmanager
def cluster():
    status = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True, cwd=ROOT)
    if status.returncode == 0:
        yield status.stdout.strip()
        return
    started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, cwd=ROOT, check=True)
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, cwd=ROOT)


class Processes:
    def __init__(self, env: dict, logs: Path):
        self.env, self.logs = env, logs
        self.running: list[subprocess.Popen] = []

    def start(self, name: str, *argv: str, **env: str) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as out:
            p = subprocess.Popen(
                [sys.executable, *argv], cwd=ROOT, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT
            )
        self.running.append(p)
        return p

    def stop(self) -> None:
        for p in self.running:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.running:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.running.clear()


def wait_for(what: str, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def jobs_per_minute(stores, image: str, count: int) -> dict:
    # One line each: the log index exists (and the pipeline is warm) before the latency is measured.
    command = "sh -c 'echo $SCALE_JOB_ID; sleep 1'"
    job_type, _ = stores.job_types.save_job_type(image, seed(f"sleeper-{uuid.uuid4().hex[:6]}", command))
    start = time.monotonic()
    ids = [stores.jobs.create_job(job_type.id, {"files": {}, "json": {}}) for _ in range(count)]
    statuses: list[str] = []  # the final statuses of ids[: len(statuses)]: a finished job is not asked again

    def done() -> bool:
        while len(statuses) < len(ids):
            status = stores.jobs.get_job(ids[len(statuses)]).job["status"]
            if status not in ("COMPLETED", "FAILED", "CANCELED"):
                return False
            statuses.append(status)
        return True

    wait_for(f"{count} jobs", done, timeout=900)
    elapsed = time.monotonic() - start
    return {
        "jobs": count,
        "seconds": round(elapsed, 2),
        "jobs_per_minute": round(count / elapsed * 60, 1),
        "completed": statuses.count("COMPLETED"),
    }


def line_latency(stores, es, prefix: str, image: str, python: str, rate: int, seconds: int) -> dict:
    code = PRINTER.format(rate=rate, seconds=seconds)
    m = seed(f"printer-{uuid.uuid4().hex[:6]}", python_command(python, code))
    job_type, _ = stores.job_types.save_job_type(image, m)
    job_id = stores.jobs.create_job(job_type.id, {"files": {}, "json": {}})
    cluster_id = f"scale_job_{job_id}x1"
    total = rate * seconds
    seen: dict[int, float] = {}
    stamps: dict[int, float] = {}
    low = 0  # every order number <= low has been seen
    deadline = time.monotonic() + seconds * 20 + 300
    while low < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(seen)} of {total} lines searchable")
        query = {
            "bool": {
                "filter": [
                    {"term": {"scale_job_exe.keyword": cluster_id}},
                    {"range": {"scale_order_num": {"gt": low}}},
                ]
            }
        }
        try:
            resp = es.search(
                index=f"{prefix}-*",
                query=query,
                size=10_000,
                sort=[{"scale_order_num": "asc"}],
                source=["message", "scale_order_num"],
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        except Exception as exc:  # an index just created: its shards not active yet
            log("search failed:", type(exc).__name__)
            time.sleep(POLL)
            continue
        answered = time.time()
        for hit in resp["hits"]["hits"]:
            order = hit["_source"]["scale_order_num"]
            if order not in seen:
                seen[order] = answered
                stamps[order] = float(hit["_source"]["message"].split()[1])
        while low + 1 in seen:
            low += 1
        time.sleep(POLL)
    latencies = sorted(seen[o] - stamps[o] for o in seen)
    q = statistics.quantiles(latencies, n=100)
    return {
        "lines": total,
        "rate_lines_per_s": rate,
        "seconds": seconds,
        "latency_p50_s": round(q[49], 3),
        "latency_p95_s": round(q[94], 3),
        "latency_max_s": round(latencies[-1], 3),
        "lines_within_2s": round(sum(1 for x in latencies if x <= 2.0) / len(latencies), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kube_bench")
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--low-rate", type=int, default=100, help="also measured: the latency without a backlog")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "kube.json"))
    args = parser.parse_args(argv)

    from kubernetes import client, config

    from accounts.local_worker import ensure_local_worker, write_secret
    from core.times import utcnow
    from jobs.db import make_engine, upgrade
    from jobs.stores import Stores
    from jobs.user_store import EXECUTOR_SCOPE
    from settings import Settings

    os.environ.setdefault("ES_HEAP", "1g")  # a shared machine: the bench's own node stays small
    result: dict = {"machine": machine(), "settings": vars(args) | {"poll_s": POLL}}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kube-bench-")))
        es_url = stack.enter_context(elasticsearch(work / "es"))
        es = es_client(es_url)
        kubeconfig = stack.enter_context(cluster())
        namespace = f"scale-bench-{uuid.uuid4().hex[:6]}"
        core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
        core.create_namespace(cast(Any, {"metadata": {"name": namespace}}))
        stack.callback(core.delete_namespace, namespace, propagation_policy="Background", grace_period_seconds=0)
        k8s_home = Path(kubeconfig).parent
        # The executors' environment: no credential of the service's (database, Elasticsearch, admin token).
        secret_names = ("DATABASE_URL", "API_TOKEN", "READ_TOKEN")  # and every ELASTICSEARCH_ setting
        env = dict(
            {k: v for k, v in os.environ.items() if k not in secret_names and not k.startswith("ELASTICSEARCH_")},
            DATA_DIR=str(work / "data"),
            PYTHONPATH=str(ROOT),
            LOG_FORMAT="text",
            KUBECONFIG=kubeconfig,
            KUBERNETES_NAMESPACE=namespace,
            KUBERNETES_IMAGE_PULL_POLICY="Never",
            KUBERNETES_POD_LOGS_DIR=str(k8s_home / "pod-logs"),
            KUBERNETES_AGENT_DIR=str(work / "agent"),
        )
        for engine in ("local", "kubernetes"):
            url = f"sqlite:///{work}/{engine}.db"
            upgrade(make_engine(url))
            stores = Stores.open(url, utcnow)
            # An index prefix per engine: each engine's database numbers its jobs from 1 (same cluster ids).
            prefix = f"{PREFIX}-{engine[:5]}"
            api = Gunicorn(
                {
                    "DATABASE_URL": url,
                    "ELASTICSEARCH_URL": es_url,
                    "LOG_INDEX_PREFIX": prefix,
                    "API_TOKEN": "bench-admin-token-0123456789abcdef",
                    "DATA_DIR": str(work / f"api-{engine}"),
                    "SPOOL_DIR": str(work / f"api-spool-{engine}"),
                },
                workers=2,
                log_dir=work,
            )
            stack.callback(api.close)
            # The local worker's token is made as scripts/run makes it (bound to its node, with its outputs'
            # workspace); the Kubernetes engine's serves every node (it moves each execution to its pod's node).
            if engine == "local":
                settings = Settings.from_env({"DATA_DIR": str(work / "data"), "API_TOKEN": "unused-by-bench"})
                ensure_local_worker(settings, stores, "bench-local", work / f"{engine}.token")
            else:
                stores.users.add_user("bench-engine", None)
                token, _ = stores.users.create_token("bench-engine", "kubernetes engine", scope=EXECUTOR_SCOPE)
                write_secret(work / f"{engine}.token", token)
            procs = Processes(dict(env, SCALE_API_URL=api.url, EXECUTOR_TOKEN_FILE=str(work / f"{engine}.token")), work)
            stack.callback(procs.stop)
            if engine == "kubernetes":
                procs.start(
                    "agent", "-m", "ingest", "kubernetes-node", "--node", "localhost", SPOOL_DIR=str(work / "sa")
                )
                procs.start("engine", "-m", "worker", "--engine", "kubernetes", "--node", "bench", "--poll", "0.2")
                busybox, image, python = BUSYBOX, PYTHON, "python3"
            else:
                procs.start(
                    "worker", "-m", "worker", "--node", "bench-local", "--poll", "0.2", SPOOL_DIR=str(work / "sl")
                )
                # The host's Debian Python: the sandbox hides pyenv's shims' state.
                busybox = image = "unused-by-the-local-engine"
                python = "/usr/bin/python3"
            log(engine, ": jobs per minute")
            jobs = jobs_per_minute(stores, busybox, args.jobs)
            log(engine, ":", jobs)
            result[engine] = {"throughput": jobs}
            for key, rate in (("line_to_searchable_low_rate", args.low_rate), ("line_to_searchable", args.rate)):
                log(engine, ":", key, rate, "lines/s")
                result[engine][key] = line_latency(stores, es, prefix, image, python, rate, args.seconds)
                log(engine, ":", result[engine][key])
            procs.stop()
            api.close()
            stores.close()
        result["machine"]["load_avg_at_end"] = list(os.getloadavg())
    text = json.dumps(result, indent=2)
    print(text)
    Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
