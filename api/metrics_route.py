"""GET /metrics: Prometheus metrics of every gunicorn worker (multiprocess mode), with jobs by status read
from the job counters when scraped. A read like any other: READ_TOKEN protects it when set."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import falcon
from prometheus_client.core import Metric

from api.routing import Operation, Response
from core import metrics
from jobs.db import DatabaseError
from jobs.statuses import JobStatus

log = logging.getLogger(__name__)

# Counts are re-read at most this often: several scrapers (or a fast scrape interval) cost one query.
JOBS_MAX_AGE_SECONDS = 5.0


class JobsByStatus:
    """A scrape-time collector of scale_jobs{status}; a database that does not answer leaves it out."""

    def __init__(self, count_by_status: Callable[[], dict[str, int]]):
        self._count = count_by_status
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, int]] | None = None

    def collect(self) -> Iterator[Metric]:
        counts = self._counts()
        if counts is not None:
            yield metrics.jobs_family(counts, [s.value for s in JobStatus])

    def _counts(self) -> dict[str, int] | None:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < JOBS_MAX_AGE_SECONDS:
                return self._cached[1]
            try:
                counts = self._count()
            except DatabaseError as exc:
                metrics.DATABASE_ERRORS.labels("metrics").inc()
                log.warning("jobs by status left out of the metrics: %s", type(exc).__name__)
                return None
            self._cached = (time.monotonic(), counts)
            return counts


class MetricsResource:
    operations = {
        "GET": Operation(
            "Prometheus metrics (text exposition format) of every worker process",
            responses={200: Response("The metrics", {"text/plain": {"type": "string"}})},
        )
    }

    def __init__(self, count_by_status: Callable[[], dict[str, int]]):
        self._jobs = JobsByStatus(count_by_status)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = metrics.CONTENT_TYPE
        resp.data = metrics.exposition([self._jobs])
