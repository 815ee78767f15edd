"""Command line: `python -m ingest apply-template | ship | drain | prune | kubernetes-node` (configured like the
service, from the environment).

  ship --exe ID --stream stdout FILE|-      lines of FILE (or stdin) as the execution's log; order numbers
                                             and the execution's fields come from the database
  ship --cluster-id CID --first-order N ...  the same without a database (numbers N, N+1, ...)
  drain                                      ship what dead shippers left in the spool
  prune                                      delete the daily indices older than LOG_RETENTION_DAYS (by name)
  kubernetes-node [--node NAME]              the node agent: ship the engine's job containers' output from the
                                             kubelet's CRI log files (ingest/kube_node.py) until stopped

Before anything else each command checks the connection (core/preflight.py): wrong credentials, an untrusted
certificate or a missing privilege end it at once with one line (exit status 78); a cluster that does not
answer does not (ship spools the lines, exit status 75).

With SCALE_API_URL and EXECUTOR_TOKEN_FILE set (an executor host), ship, drain and kubernetes-node forward the
lines to the API with the executor token (ingest/forwarder.py) instead of writing to Elasticsearch, which they
then neither need nor check.

Metrics (lines accepted, stored, refused, shipper retries, the spool backlog): `--metrics-port N` serves them
on HOST:N/metrics while the command runs, `--metrics-file PATH` writes them when it ends (the text format of
node_exporter's textfile collector).

`ship` reports "accepted <n>" on stderr (with --progress) each time n lines are durably spooled, and a JSON
summary on stdout. Exit status: 0 all shipped, 1 Elasticsearch refused some lines, 75 lines left spooled
(Elasticsearch unreachable for --wait seconds; a later ship or drain sends them).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
from pathlib import Path

from elastic_transport import TransportError
from elasticsearch import ApiError

from core import metrics
from core.elastic import elasticsearch_client
from core.preflight import Needs, Refused, check_connection, pruner_needs, writer_needs
from core.times import utcnow
from ingest import executor_log_writer
from ingest.capture import Capture, LocalSequence
from ingest.documents import Origin
from ingest.log_writer import LogWriter
from ingest.retention import prune
from ingest.shipper import Shipper
from ingest.template import LogTemplate, ensure_template, template_check
from settings import ConfigurationError, Settings

EXIT_REFUSED = 1
EXIT_SPOOLED = 75  # EX_TEMPFAIL
EXIT_CONFIG = 78  # EX_CONFIG: the settings can't work (one line on stderr says why)
READ_SIZE = 1 << 16


def make_shipper(settings: Settings) -> LogWriter:
    """A Shipper to Elasticsearch, or with SCALE_API_URL a Forwarder to the API with the executor token."""
    if settings.scale_api_url is not None:
        return executor_log_writer(settings)
    es = elasticsearch_client(settings, patient=True)
    return Shipper(es, LogTemplate.of(settings), settings.spool_dir, streams=settings.shipper_streams)


def origin_and_reserve(args, settings: Settings):
    if args.exe is None:
        origin = Origin(
            cluster_id=args.cluster_id, task=args.task or "", node=args.node or "", host=socket.gethostname()
        )
        return origin, LocalSequence(args.first_order), None
    from jobs.stores import Stores

    stores = Stores.open(settings.database_url, utcnow)
    target = stores.log_targets.execution_for_logs(args.exe)
    if target is None:
        sys.exit(f"unknown job execution {args.exe}")
    origin = Origin(
        cluster_id=target.cluster_id,
        task=args.task or "",
        node=args.node or target.node or "",
        host=socket.gethostname(),
        job_type=target.job_type_name,
        job_type_version=target.job_type_version,
        job_id=str(target.job_id),
        exe_num=str(target.exe_num),
    )
    return origin, (lambda count: stores.log_targets.reserve_log_sequence(args.exe, count)), stores


def ship(args, settings: Settings) -> int:
    origin, reserve, stores = origin_and_reserve(args, settings)
    shipper = make_shipper(settings)

    def progress(n: int) -> None:
        if args.progress:
            # One write per report: print() writes the text and the newline separately, and the shipper's
            # background thread may log a warning in between, which would split the line.
            sys.stderr.write(f"accepted {n}\n")
            sys.stderr.flush()

    capture = Capture(shipper, origin, reserve, max_line_bytes=settings.max_log_line_bytes, on_accept=progress)
    fd = sys.stdin.fileno() if args.file == "-" else os.open(args.file, os.O_RDONLY)
    while data := os.read(fd, READ_SIZE):
        capture.feed(args.stream, data)
    capture.close()
    drained = shipper.close(timeout=args.wait)
    if stores is not None:
        stores.close()
    return report(shipper, drained, lines=capture.accepted)


def drain(args, settings: Settings) -> int:
    shipper = make_shipper(settings)
    shipper.adopt_orphans()  # now, rather than on the background thread's first round
    drained = shipper.close(timeout=args.wait)
    return report(shipper, drained)


def kubernetes_node(args, settings: Settings) -> int:
    import signal

    from ingest.kube_node import NodeAgent, api_views

    shipper = make_shipper(settings)
    annotations, ended = api_views(settings.kubeconfig)
    agent = NodeAgent(
        shipper,
        settings.kubernetes_pod_logs_dir,
        settings.kubernetes_agent_dir,
        args.node or os.environ.get("NODE_NAME") or socket.gethostname(),
        namespace=settings.kubernetes_namespace,
        annotations=annotations,
        ended=ended,
        max_line_bytes=settings.max_log_line_bytes,
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: agent.stop())
    agent.run_forever(args.interval)
    drained = shipper.close(timeout=args.wait)
    return report(shipper, drained, lines=agent.shipped)


def report(shipper: LogWriter, drained: bool, **extra) -> int:
    summary = dict(
        extra,
        stored=shipper.stored,
        duplicates=shipper.duplicates,
        refused=shipper.error_count,
        spooled=shipper.pending_lines if not drained else 0,
    )
    print(json.dumps(summary), flush=True)
    for error in list(shipper.errors)[:20]:
        print(f"refused: {json.dumps(error, default=str)}", file=sys.stderr)
    if not drained:
        print(
            f"{'Elasticsearch' if isinstance(shipper, Shipper) else 'The API'} unreachable ({shipper.last_failure}); "
            f"lines left in {shipper.spool.directory}",
            file=sys.stderr,
        )
        return EXIT_SPOOLED
    return EXIT_REFUSED if shipper.error_count else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("apply-template", help="put the log index template (idempotent)")
    s = commands.add_parser("ship", help="ship lines of a file or stdin as an execution's log")
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--exe", type=int, help="job execution id (database)")
    who.add_argument("--cluster-id", help="scale_job_exe value, without a database (needs --first-order)")
    s.add_argument("--first-order", type=int, help="first scale_order_num with --cluster-id")
    s.add_argument("--stream", choices=("stdout", "stderr"), default="stdout")
    s.add_argument("--task", help="scale_task of the lines")
    s.add_argument("--node", help="scale_node of the lines (default: the execution's node)")
    s.add_argument("--wait", type=float, default=60.0, help="seconds to wait for Elasticsearch at the end")
    s.add_argument("--progress", action="store_true", help='print "accepted <n>" on stderr as lines are spooled')
    s.add_argument("file", help="a file, or - for stdin")
    d = commands.add_parser("drain", help="ship what dead shippers left in the spool")
    d.add_argument("--wait", type=float, default=60.0)
    k = commands.add_parser("kubernetes-node", help="ship job containers' output from this node's CRI log files")
    k.add_argument("--node", help="scale_node of the lines (default: NODE_NAME, else the host name)")
    k.add_argument("--interval", type=float, default=0.2, help="seconds between looks at the log files")
    k.add_argument("--wait", type=float, default=30.0, help="seconds to wait for Elasticsearch when stopped")
    for command in (s, d, k):
        command.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on HOST:PORT while running")
        command.add_argument("--metrics-file", help="write Prometheus metrics to this file at the end")
    commands.add_parser("prune", help="delete the daily log indices older than LOG_RETENTION_DAYS, by exact name")
    args = parser.parse_args(argv)
    if args.command == "ship" and args.cluster_id is not None and args.first_order is None:
        parser.error("--cluster-id needs --first-order (numbers reused for other lines are dropped as duplicates)")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        if args.command == "prune" and settings.log_retention_days is None:
            raise ConfigurationError("LOG_RETENTION_DAYS is not set: nothing is ever pruned")
        shipping = args.command in ("ship", "drain", "kubernetes-node")
        template = template_check(settings) if shipping else None
        # Forwarding to the API (SCALE_API_URL), this host holds no Elasticsearch credential to check.
        if not (shipping and settings.scale_api_url is not None):
            for warning in check_connection(settings, needs(args.command, settings), template):
                logging.getLogger("ingest").warning("%s", warning)
    except (ConfigurationError, Refused) as exc:
        print(f"python -m ingest {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command in ("apply-template", "prune"):
        try:
            return maintain(args.command, settings)
        except (TransportError, ApiError) as exc:
            print(f"python -m ingest {args.command}: Elasticsearch failed: {exc}", file=sys.stderr)
            return EXIT_SPOOLED if isinstance(exc, TransportError) else EXIT_REFUSED
    if args.metrics_port is not None:
        metrics.serve(args.metrics_port, settings.host)
    try:
        if args.command == "kubernetes-node":
            return kubernetes_node(args, settings)
        return ship(args, settings) if args.command == "ship" else drain(args, settings)
    finally:
        if args.metrics_file:
            metrics.write_textfile(Path(args.metrics_file))


def maintain(command: str, settings: Settings) -> int:
    es = elasticsearch_client(settings, patient=True)
    if command == "apply-template":
        changed = ensure_template(es, LogTemplate.of(settings))
        print("template applied" if changed else "template already current")
        return 0
    assert settings.log_retention_days is not None
    report = prune(es, settings.log_index_prefix, settings.log_retention_days, utcnow().date())
    print(json.dumps(report.as_dict()), flush=True)
    return 0


def needs(command: str, settings: Settings) -> Needs:
    """The privileges each command needs (apply-template: only the template one)."""
    if command == "prune":
        return pruner_needs(settings)
    if command == "apply-template":
        return Needs({"manage_index_templates": "scalelogs_writer"})
    return writer_needs(settings)


if __name__ == "__main__":
    sys.exit(main())
