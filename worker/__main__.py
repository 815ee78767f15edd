"""`python -m worker`: run the local worker, configured like the service (from the environment)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from core import metrics
from core.logs import configure_logging
from core.preflight import Refused, check_connection, writer_needs
from core.times import utcnow
from ingest import executor_log_writer
from ingest.template import template_check
from jobs.stores import Stores
from settings import ConfigurationError, Settings
from worker.node_name import hold_node_name
from worker.outputs import Outputs
from worker.runner import Worker
from worker.sandbox import Sandbox, hidden_paths

log = logging.getLogger("worker")
EXIT_CONFIG = 78  # EX_CONFIG: the settings can't work (one line on stderr says why)


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
    try:
        # Credentials refused, a missing privilege, an untrusted certificate: one line, exit. Down: run anyway
        # (job output is spooled until Elasticsearch answers). Forwarding logs to the API (SCALE_API_URL), the
        # worker holds no Elasticsearch credential.
        if settings.scale_api_url is None:
            for warning in check_connection(settings, writer_needs(settings), template_check(settings)):
                log.warning("%s", warning)
    except Refused as exc:
        print(f"python -m worker: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    metrics_port = args.metrics_port if args.metrics_port is not None else settings.worker_metrics_port
    if metrics_port is not None:
        metrics.serve(metrics_port, settings.worker_metrics_host)
        log.info("metrics on http://%s:%d/metrics", settings.worker_metrics_host, metrics_port)
    node, _lock = hold_node_name(settings.data_dir, args.node)
    stores = Stores.open(settings.database_url, utcnow)
    if args.engine == "kubernetes":
        return run_kubernetes(settings, stores, node, args)
    shipper = executor_log_writer(settings)  # to Elasticsearch, or to the API with SCALE_API_URL
    # The spool holds other jobs' log lines; the outputs' root other executions' files (each job's own folder
    # is bound back in).
    sandbox = Sandbox(
        hidden_paths(
            settings.data_dir,
            settings.database_url,
            settings.spool_dir,
            settings.worker_output_dir,
            *([settings.executor_token_file] if settings.executor_token_file else []),
        )
    )
    worker = Worker(
        stores.executions,
        stores.log_targets,
        shipper,
        node,
        max_line_bytes=settings.max_log_line_bytes,
        lease_seconds=settings.worker_lease_seconds,
        outputs=Outputs(
            stores.files, settings.worker_output_dir, settings.worker_workspace, settings.worker_output_url
        ),
        sandbox=sandbox if settings.worker_sandbox else None,
    )
    if not settings.worker_sandbox:
        log.warning("WORKER_SANDBOX=0: jobs run as this worker's user and can read its token, database and environment")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    log.info("worker %s started (pid %d)", node, os.getpid())
    worker.recover()
    worker.run_forever(poll=args.poll, once=args.once)
    drained = shipper.close(timeout=30)
    stores.close()
    if not drained:
        log.warning("Log lines not shipped yet stay in %s for the next start", settings.spool_dir)
    return 0


def run_kubernetes(settings: Settings, stores: Stores, node: str, args) -> int:
    """The Kubernetes engine: no job runs here, so no shipper and no sandbox (the node agent ships the logs)."""
    from worker.kube_engine import KubernetesEngine, api_client

    engine = KubernetesEngine(
        stores.executions,
        api_client(settings.kubeconfig),
        settings.kubernetes_namespace,
        node,
        lease_seconds=settings.worker_lease_seconds,
        pull_policy=settings.kubernetes_pull_policy,
        ttl_seconds=settings.kubernetes_job_ttl,
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: engine.stop())
    log.info("worker %s started (pid %d), Kubernetes namespace %s", node, os.getpid(), settings.kubernetes_namespace)
    engine.recover()
    engine.run_forever(poll=args.poll, once=args.once)
    stores.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
