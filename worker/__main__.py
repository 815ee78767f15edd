"""`python -m worker`: run the local worker, configured like the service (from the environment)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from core import metrics
from core.logs import configure_logging
from ingest import executor_log_writer
from settings import ConfigurationError, Settings
from worker.executor_client import ExecutorClient, ExecutorError
from worker.node_name import hold_node_name
from worker.outputs import Outputs
from worker.runner import Worker
from worker.sandbox import Sandbox, hidden_paths

log = logging.getLogger("worker")
EXIT_CONFIG = 78  # EX_CONFIG: the settings can't work (one line on stderr says why)
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the service refused the token or did not answer at start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker")
    parser.add_argument(
        "--node",
        default=os.environ.get("WORKER_NODE") or None,
        help="node name (default: the host name, or host-N when several workers run here)",
    )
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks at an empty queue")
    parser.add_argument("--once", action="store_true", help="run at most one job, then exit")
    parser.add_argument(
        "--engine",
        choices=("local", "kubernetes"),
        default="local",
        help="local: run jobs as processes here (default); kubernetes: as batch/v1 Jobs of KUBERNETES_NAMESPACE",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="serve this worker's Prometheus metrics on WORKER_METRICS_HOST:PORT/metrics (default: "
        "WORKER_METRICS_PORT; unset: not served)",
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"python -m worker: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.log_format)
    metrics_port = args.metrics_port if args.metrics_port is not None else settings.worker_metrics_port
    if metrics_port is not None:
        metrics.serve(metrics_port, settings.worker_metrics_host)
        log.info("metrics on http://%s:%d/metrics", settings.worker_metrics_host, metrics_port)
    node, _lock = hold_node_name(settings.data_dir, args.node)
    executions = executor_client(settings, node)
    if executions is None:
        return EXIT_CONFIG
    if args.engine == "kubernetes":
        return run_kubernetes(settings, executions, node, args)
    shipper = executor_log_writer(settings)  # to the API with the executor token (SCALE_API_URL)
    # The spool holds other jobs' log lines; the outputs' root other executions' files (each job's own folder
    # is bound back in); the token file the worker's own credential.
    hidden = (settings.spool_dir, settings.worker_output_dir, settings.executor_token_file)
    sandbox = Sandbox(hidden_paths(settings.data_dir, settings.database_url, *(p for p in hidden if p)))
    worker = Worker(
        executions,
        shipper,
        node,
        max_line_bytes=settings.max_log_line_bytes,
        lease_seconds=settings.worker_lease_seconds,
        outputs=Outputs(settings.worker_output_dir, settings.worker_workspace),
        sandbox=sandbox if settings.worker_sandbox else None,
    )
    if not settings.worker_sandbox:
        log.warning("WORKER_SANDBOX=0: jobs run as this worker's user and can read its token, database and environment")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    log.info("worker %s started (pid %d)", node, os.getpid())
    if not started(worker.recover):
        shipper.close(timeout=5)
        return EXIT_UNAVAILABLE
    worker.run_forever(poll=args.poll, once=args.once)
    drained = shipper.close(timeout=30)
    executions.close()
    if not drained:
        log.warning("Log lines not shipped yet stay in %s for the next start", settings.spool_dir)
    return 0


def executor_client(settings: Settings, node: str) -> ExecutorClient | None:
    """The service's executor routes with this worker's token (SCALE_API_URL, EXECUTOR_TOKEN_FILE): the worker
    holds no database credential. None (said on stderr) when they are not set (settings.py read and checked the
    file)."""
    if not settings.scale_api_url:
        print(
            "python -m worker: SCALE_API_URL and EXECUTOR_TOKEN_FILE must be set (the worker talks to the service "
            "with an executor token: python -m accounts token create USER --name NAME --executor)",
            file=sys.stderr,
        )
        return None
    return ExecutorClient(settings.scale_api_url, settings.executor_token, node)


def started(recover) -> bool:
    """The first call to the service (failing what a dead predecessor left running): a refused token or a service
    that never answered (after the client's retries) is one line on stderr, not a traceback."""
    try:
        recover()
    except ExecutorError as exc:
        print(f"python -m worker: {exc}", file=sys.stderr)
        return False
    return True


def run_kubernetes(settings: Settings, executions: ExecutorClient, node: str, args) -> int:
    """The Kubernetes engine: no job runs here, so no shipper and no sandbox (the node agent ships the logs)."""
    from worker.kube_engine import KubernetesEngine, api_client

    engine = KubernetesEngine(
        executions,
        api_client(settings.kubeconfig),
        settings.kubernetes_namespace,
        node,
        lease_seconds=settings.worker_lease_seconds,
        pull_policy=settings.kubernetes_pull_policy,
        ttl_seconds=settings.kubernetes_job_ttl,
        outputs=Outputs(settings.worker_output_dir, settings.worker_workspace),
        output_claim=settings.kubernetes_output_claim,
        secrets_dir=settings.kubernetes_secrets_dir,
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: engine.stop())
    log.info("worker %s started (pid %d), Kubernetes namespace %s", node, os.getpid(), settings.kubernetes_namespace)
    if not started(engine.recover):
        return EXIT_UNAVAILABLE
    engine.run_forever(poll=args.poll, once=args.once)
    executions.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
