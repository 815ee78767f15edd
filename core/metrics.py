"""Every Prometheus metric the service exports, declared once (the dashboard and its test read these names),
and how a process exposes them.

At the bottom layer so that api/, worker/, ingest/ and search/ all count into the same catalogue without
importing each other. Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set (gunicorn.conf.py) before anything
imports prometheus_client: each worker writes its values to files there, and a scrape served by any worker
adds up every worker's (gauges by their `multiprocess_mode`). Without it (the local worker, the ingest
command line, tests), values live in this process and `serve`/`write_textfile` expose them.

Figures that are not events (jobs by status, the age of the oldest spooled batch) are computed when scraped,
by collectors passed to `exposition`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# --- HTTP (api) --------------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "scale_http_requests_total",
    "HTTP requests answered, by route template (not raw path) and status",
    ("method", "route", "status"),
)
HTTP_LATENCY = Histogram(
    "scale_http_request_duration_seconds",
    "Time until the response starts (a streamed or followed body is not included), by route template",
    ("method", "route"),
    buckets=LATENCY_BUCKETS,
)
LONG_READS = Gauge(
    "scale_http_long_reads",
    "Log follows and whole-log streams open now, by kind (follow, stream)",
    ("kind",),
    multiprocess_mode="livesum",
)
LONG_READS_REFUSED = Counter(
    "scale_http_long_reads_refused_total",
    "Log follows and whole-log streams refused (429), by kind and by the cap reached (client, worker)",
    ("kind", "cap"),
)
LONG_READS_LIMIT = Gauge(
    "scale_http_long_reads_limit",
    "Caps on concurrent log follows and whole-log streams: per client address and per worker process",
    ("cap",),
    multiprocess_mode="livemax",
)
HTTP_UNAVAILABLE = Counter(
    "scale_http_unavailable_total",
    "503 answers, by what was unavailable (elasticsearch, database, spool, readiness)",
    ("reason",),
)

# --- dependencies -------------------------------------------------------------------------------------------
ELASTICSEARCH_ERRORS = Counter(
    "scale_elasticsearch_errors_total",
    "Elasticsearch requests that failed (no answer, timeout, 429/5xx), by component (search, shipper, readiness)",
    ("component",),
)
DATABASE_ERRORS = Counter(
    "scale_database_errors_total",
    "Database errors, by component (api, readiness, worker)",
    ("component",),
)

# --- the log pipeline (ingest) --------------------------------------------------------------------------------
LINES_ACCEPTED = Counter("scale_log_lines_accepted_total", "Log lines durably spooled for Elasticsearch")
LINES_STORED = Counter("scale_log_lines_stored_total", "Log lines stored in Elasticsearch")
LINES_DUPLICATE = Counter("scale_log_lines_duplicate_total", "Log lines Elasticsearch already had (replays)")
LINES_REFUSED = Counter("scale_log_lines_refused_total", "Log lines Elasticsearch refused for good")
LINES_FORWARDED = Counter(
    "scale_log_lines_forwarded_total", "Log lines an executor's forwarder sent and the API acknowledged (2xx)"
)
FORWARDER_REFUSED = Counter(
    "scale_log_forwarder_refused_lines_total",
    "Log lines the API refused an executor's forwarder, by status and outcome (dropped: refused for good; kept: "
    "the executor token was refused, the lines stay spooled for a restart)",
    ("status", "outcome"),
)
SHIPPER_RETRIES = Counter("scale_log_shipper_retries_total", "Bulk passes that left batches spooled to be sent again")
SPOOL_LINES_NAME, SPOOL_BYTES_NAME = "scale_log_spool_lines", "scale_log_spool_bytes"
SPOOL_LINES = Gauge(SPOOL_LINES_NAME, "Log lines waiting in the spool for Elasticsearch", multiprocess_mode="livesum")
SPOOL_BYTES = Gauge(SPOOL_BYTES_NAME, "Bytes of bulk payload waiting in the spool", multiprocess_mode="livesum")
SPOOL_OLDEST_NAME = "scale_log_spool_oldest_pending_timestamp_seconds"
SPOOL_OLDEST = Gauge(
    SPOOL_OLDEST_NAME,
    "When the oldest batch still waiting in the spool was spooled (Unix time; +Inf when none waits)",
    multiprocess_mode="livemin",
)
SPOOL_OLDEST_AGE = "scale_log_spool_oldest_pending_age_seconds"  # computed when scraped, from SPOOL_OLDEST
SHIPPER_LAST_FAILURE = Gauge(
    "scale_log_shipper_last_failure_timestamp_seconds",
    "When a bulk pass last failed (Unix time; 0: never)",
    multiprocess_mode="max",
)

# --- jobs (computed when scraped) ------------------------------------------------------------------------------
JOBS = "scale_jobs"  # by status, from the job_counts counters

# --- the local worker -----------------------------------------------------------------------------------------
WORKER_CLAIMS = Counter("scale_worker_claims_total", "Queued jobs this worker claimed")
WORKER_RUNS = Counter("scale_worker_runs_total", "Executions this worker ran to an end, by status", ("status",))
WORKER_TIMEOUTS = Counter("scale_worker_timeouts_total", "Executions killed after their job type's timeout")
WORKER_LEASE_EXPIRIES = Counter(
    "scale_worker_lease_expiries_total", "Executions of other workers failed (node-lost) because their lease ran out"
)
WORKER_LEASES_LOST = Counter(
    "scale_worker_leases_lost_total", "Executions this worker gave up because another worker failed them"
)
WORKER_RECOVERIES = Counter(
    "scale_worker_node_lost_recoveries_total",
    "Executions left RUNNING on this node by a dead worker, failed (node-lost) at start",
)
WORKER_RUNNING = Gauge("scale_worker_running", "Executions running now", multiprocess_mode="livesum")

# --- alerts on saved searches (alerts/checker.py) --------------------------------------------------------------
ALERT_EVALUATIONS = Counter(
    "scale_alert_evaluations_total", "Alert rules evaluated, by outcome (ok, firing, failed)", ("outcome",)
)
ALERT_FIRING = Gauge(
    "scale_alert_firing_rules",
    "Alert rules firing now (read from the database by the process that checked last)",
    multiprocess_mode="mostrecent",
)
ALERT_DELIVERIES = Counter(
    "scale_alert_deliveries_total", "Alert notifications delivered, by target (webhook, email)", ("target",)
)
ALERT_DELIVERY_FAILURES = Counter(
    "scale_alert_delivery_failures_total",
    "Alert notification attempts that failed, by target and whether it will be retried (retry, gave_up)",
    ("target", "outcome"),
)

# Nothing is spooled yet: +Inf keeps this process out of the minimum across processes.
SPOOL_OLDEST.set(math.inf)


@dataclass(frozen=True)
class Backlog:
    lines: int
    bytes: int
    oldest: float | None  # Unix time the oldest waiting batch was spooled

    def age(self, now: float | None = None) -> float:
        if self.oldest is None:
            return 0.0
        return max(0.0, (time.time() if now is None else now) - self.oldest)


def multiprocess_dir() -> Path | None:
    """prometheus_client's multiprocess directory when this process counts into one (it reads the variable
    itself when imported; this only tells the scrape where to add the processes up)."""
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


class _Families:
    """A collector yielding fixed metric families (what another collector produced)."""

    def __init__(self, families: Iterable[Metric]):
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def _base_families() -> list[Metric]:
    path = multiprocess_dir()
    if path is None:
        return list(REGISTRY.collect())
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(path))
    return list(registry.collect())


def _value(families: list[Metric], name: str, pick: Callable[[list[float]], float]) -> float | None:
    values = [s.value for f in families for s in f.samples if s.name == name]
    return pick(values) if values else None


def spool_backlog_of_all_processes() -> Backlog:
    """The spool backlog summed over every process counting into this one's metrics."""
    families = [f for f in _base_families() if f.name.startswith("scale_log_spool")]
    oldest = _value(families, SPOOL_OLDEST_NAME, min)
    return Backlog(
        lines=int(_value(families, SPOOL_LINES_NAME, sum) or 0),
        bytes=int(_value(families, SPOOL_BYTES_NAME, sum) or 0),
        oldest=oldest if oldest is not None and math.isfinite(oldest) else None,
    )


def _spool_age(families: list[Metric]) -> Metric:
    oldest = _value(families, SPOOL_OLDEST_NAME, min)
    age = 0.0 if oldest is None or not math.isfinite(oldest) else max(0.0, time.time() - oldest)
    return GaugeMetricFamily(SPOOL_OLDEST_AGE, "Seconds the oldest batch waiting in the spool has waited", value=age)


def jobs_family(counts: dict[str, int], statuses: Iterable[str]) -> Metric:
    family = GaugeMetricFamily(JOBS, "Jobs by status", labels=("status",))
    for status in statuses:
        family.add_metric((status,), counts.get(status, 0))
    return family


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text a /metrics scrape answers: every process's metrics, the spool age, and `extra` collectors."""
    families = _base_families()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([*families, _spool_age(families)]))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose this process's metrics on http://host:port/metrics (a background thread)."""
    start_http_server(port, addr=host)


def write_textfile(path: Path) -> None:
    """This process's metrics as a file for node_exporter's textfile collector (written atomically)."""
    write_to_textfile(str(path), REGISTRY)
