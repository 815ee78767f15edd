"""gunicorn settings for `gunicorn -c gunicorn.conf.py api.wsgi:app`.

gthread workers: a followed log (`follow=true`) holds one thread, not a whole worker, and each follow
ends after FOLLOW_MAX_SECONDS, so long-lived readers can never starve the job routes.

Metrics: every worker counts into files under PROMETHEUS_MULTIPROC_DIR (default $DATA_DIR/metrics), set here,
in the master, before a worker imports prometheus_client; emptied when the server starts (not on a reload);
a worker's live gauges are dropped when it exits. Stop: each worker ends its follows at once (post_worker_init)
and ships its spooled log lines before it exits (worker_exit), so a normal stop or a reload (SIGHUP) leaves
nothing in the spool and keeps no follow waiting for graceful_timeout.
"""

import os
import signal
import sys

from settings import WORKER_THREADS, ConfigurationError, Settings, check_service_tokens

try:
    _settings = Settings.from_env()
    check_service_tokens(_settings)
except ConfigurationError as exc:
    sys.exit(f"gunicorn: {exc}")
_metrics_dir = _settings.metrics_dir or _settings.data_dir / "metrics"
# Written for prometheus_client, which reads it when imported (in the workers, after the fork).
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers
worker_class = "gthread"
threads = WORKER_THREADS
timeout = 60
graceful_timeout = 30
keepalive = 5
# The service logs one JSON line per request itself (api/request_log.py: with its id, route and user).
accesslog = None
# gunicorn's control socket has one fixed default path; several instances on one machine would collide.
control_socket_disable = True
# How long a stopping worker may spend shipping spooled lines: within graceful_timeout, with room to spare.
SHIP_ON_EXIT_SECONDS = 20.0


def on_starting(server):
    # Values of processes of an earlier run must not be added to this one's.
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # A stop or a reload sends each worker SIGTERM, and a gthread worker then waits for its requests in flight up
    # to graceful_timeout. A follow (SSE) would hold it that long and be cut when the worker is killed; instead
    # every follow ends at once, cleanly, and its client reconnects (to a live worker) with Last-Event-ID.
    wsgi = sys.modules.get("api.wsgi")
    if wsgi is None:
        return
    stop_worker = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        wsgi.services.stopping()
        if callable(stop_worker):
            stop_worker(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


def worker_exit(server, worker):
    # Called in the worker as it exits (and, for a worker that vanished, in the master: nothing to do there).
    wsgi = sys.modules.get("api.wsgi")
    if wsgi is None or worker.pid != os.getpid():
        return
    if wsgi.alert_checker is not None:  # no check or delivery is left half done with the stores closed
        wsgi.alert_checker.stop()
    if not wsgi.services.close(ship_timeout=SHIP_ON_EXIT_SECONDS):
        server.log.warning("worker %s: Elasticsearch did not take every spooled line; they stay spooled", worker.pid)


# In the master, before any worker is forked: credentials the cluster refuses, a missing privilege or an
# untrusted certificate stop the server with one line; a cluster that is merely down does not.
from api.startup import preflight_or_exit  # noqa: E402 (after the settings it checks)

preflight_or_exit(_settings)
