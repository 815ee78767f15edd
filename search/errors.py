"""Elasticsearch failures the API reports as 503 rather than 500."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from elasticsearch import ApiError, TransportError


class LogsUnavailable(Exception):
    """Elasticsearch did not answer (down, timing out, overloaded); `detail` is safe to show."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@contextmanager
def guarded() -> Iterator[None]:
    """Turn connection errors, timeouts and 429/5xx answers into LogsUnavailable."""
    try:
        yield
    except TransportError as exc:  # connection refused, timeout, TLS: no answer at all
        raise LogsUnavailable(f"Elasticsearch is unavailable: {type(exc).__name__}") from exc
    except ApiError as exc:
        if exc.meta.status == 429 or exc.meta.status >= 500:
            raise LogsUnavailable(f"Elasticsearch is unavailable: {exc.meta.status} {exc.error}") from exc
        raise
