"""What reads and searches raise: Elasticsearch failures (the API answers 503 rather than 500) and searches
that can't be answered as asked (400)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from elasticsearch import ApiError, Elasticsearch, TransportError

from core import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
# Seconds before each retry of a read whose shards were not ready (about 4 s in all).
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0)


class LogsUnavailable(Exception):
    """Elasticsearch did not answer (down, timing out, overloaded); `detail` is safe to show."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class LogsExpired(Exception):
    """No line of the execution is left: it is older than the retention window (LOG_RETENTION_DAYS), so its
    daily indices were deleted; `detail` is safe to show."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class SearchRefused(Exception):
    """The search can't be answered as asked (e.g. paging past what Elasticsearch serves); str(exc) says why."""


class AnchorNotFound(LookupError):
    """A context read's anchor (a scale_order_num) is no line of the log; str(exc) says which (404)."""


class CursorExpired(Exception):
    """A search cursor's point-in-time is gone (it expired or the node restarted); str(exc) says so (410)."""


@contextmanager
def guarded() -> Iterator[None]:
    """Turn connection errors, timeouts and 429/5xx answers into LogsUnavailable, and so 401/403 too: the
    service's credentials were refused (a key revoked, a role changed since start-up), which the operator
    must fix; the reason (privilege, index) goes to the log, not to the client."""
    try:
        yield
    except TransportError as exc:  # connection refused, timeout, TLS: no answer at all
        metrics.ELASTICSEARCH_ERRORS.labels("search").inc()
        raise LogsUnavailable(f"Elasticsearch is unavailable: {type(exc).__name__}") from exc
    except ApiError as exc:
        if exc.meta.status in (401, 403):
            metrics.ELASTICSEARCH_ERRORS.labels("search").inc()
            log.error("Elasticsearch refused the service's credentials (%s): %s", exc.meta.status, exc)
            raise LogsUnavailable(
                f"Elasticsearch refused the service's credentials ({exc.meta.status}): the operator must fix the "
                "service's API key or roles (see the service log)"
            ) from exc
        if exc.meta.status == 429 or exc.meta.status >= 500:
            metrics.ELASTICSEARCH_ERRORS.labels("search").inc()
            raise LogsUnavailable(f"Elasticsearch is unavailable: {exc.meta.status} {exc.error}") from exc
        raise


def shards_not_ready(exc: BaseException | None) -> bool:
    """A 503 search_phase_execution_exception: e.g. a daily index just created, its primary not active yet."""
    return isinstance(exc, ApiError) and exc.meta.status == 503 and exc.error == "search_phase_execution_exception"


def guarded_read(call: Callable[[], T]) -> T:
    """call() under guarded(); tried again after each of RETRY_DELAYS while its shards are not ready.

    Reads refuse partial results, so a shard without an active copy fails the whole read: for a moment after
    a daily index is created (its primary initializing, it holds no line yet), or while a cluster has lost
    every copy of a shard. The first passes within the retries; the second is a 503 after them, whose detail
    says that lines would be missing (not merely that Elasticsearch is down)."""
    for delay in RETRY_DELAYS:
        try:
            with guarded():
                return call()
        except LogsUnavailable as exc:
            if not shards_not_ready(exc.__cause__):
                raise
        time.sleep(delay)
    try:
        with guarded():
            return call()
    except LogsUnavailable as exc:
        if shards_not_ready(exc.__cause__):
            raise LogsUnavailable(SHARDS_MISSING) from exc.__cause__
        raise


def strict_search(es: Elasticsearch, index: str, **request: Any) -> Any:
    """One search of the log indices (patterns over open indices, a missing one skipped) under guarded_read that
    refuses partial results: a shard without any copy is a 503, never lines or counts silently missing."""
    return guarded_read(
        lambda: es.search(
            index=index,
            ignore_unavailable=True,
            allow_no_indices=True,
            expand_wildcards="open",
            allow_partial_search_results=False,
            **request,
        )
    )


SHARDS_MISSING = (
    "Elasticsearch is unavailable: a shard of the log indices has no active copy (the cluster is red), so the "
    "read is refused rather than answered with lines missing"
)
