"""Caps on the reads that hold a server thread for long: followed logs and whole-log streams.

A gunicorn worker has WORKER_THREADS threads; a follow holds one for up to FOLLOW_MAX_SECONDS, and reads are
anonymous by default, so without a cap a few dozen follows from anyone stall every route. Each worker lets at
most `per_worker` long reads run at once (fewer than its threads, so short routes always find one) and at most
`per_client` from one client address; past either, the read is 429 with Retry-After and a detail saying which
cap it hit. The counts are this process's (each gunicorn worker has its own), kept under a lock (gthread).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import cast

import falcon

from core import metrics

RETRY_AFTER_SECONDS = 10  # a follow ends by itself within FOLLOW_MAX_SECONDS; most streams far sooner


class LongReads:
    def __init__(self, per_client: int, per_worker: int):
        self.per_client = per_client
        self.per_worker = per_worker
        self._lock = threading.Lock()
        self._by_client: Counter[str] = Counter()
        self._open = 0
        metrics.LONG_READS_LIMIT.labels("client").set(per_client)
        metrics.LONG_READS_LIMIT.labels("worker").set(per_worker)

    def enter(self, client: str, kind: str) -> Callable[[], None]:
        """Take a slot for a long read of `kind` ("follow" or "stream") from `client`; returns the function that
        gives it back (safe to call more than once). 429 when a cap is reached."""
        with self._lock:
            if self._open >= self.per_worker:
                cap, detail = "worker", f"This server already runs {self.per_worker} log follows and streams"
            elif self._by_client[client] >= self.per_client:
                cap, detail = "client", f"You already have {self.per_client} log follows and streams open"
            else:
                self._open += 1
                self._by_client[client] += 1
                metrics.LONG_READS.labels(kind).inc()
                return self._releaser(client, kind)
        metrics.LONG_READS_REFUSED.labels(kind, cap).inc()
        raise falcon.HTTPTooManyRequests(
            description=f"{detail} (the {cap} cap); try again in {RETRY_AFTER_SECONDS} seconds, "
            "or read pages (limit, tail) instead of following or streaming the whole log.",
            retry_after=RETRY_AFTER_SECONDS,
        )

    @contextmanager
    def slot(self, req: falcon.Request, resp: falcon.Response, client: str, kind: str) -> Iterator[None]:
        """Hold a slot for the body the block sets (given back when the body is closed), or give it back at
        once when the block answers without one or fails."""
        if req.method != "GET":  # HEAD: Falcon drops the body, nothing is held
            yield
            return
        release = self.enter(client, kind)
        try:
            yield
        except BaseException:
            release()
            raise
        if resp.stream is None:
            release()
        else:
            resp.stream = Holding(cast(Iterable[bytes], resp.stream), release)  # our streams are iterators

    def _releaser(self, client: str, kind: str) -> Callable[[], None]:
        done = False

        def release() -> None:
            nonlocal done
            with self._lock:
                if done:
                    return
                done = True
                self._open -= 1
                self._by_client[client] -= 1
                if self._by_client[client] <= 0:
                    del self._by_client[client]
                metrics.LONG_READS.labels(kind).dec()

        return release

    def open_reads(self) -> int:
        with self._lock:
            return self._open


class Holding(Iterator[bytes]):
    """A response body that gives its slot back when the server closes it (the WSGI server calls close() when
    the body is done or the client went away) or, failing that, when it is collected."""

    def __init__(self, chunks: Iterable[bytes], release: Callable[[], None]):
        self._chunks = iter(chunks)
        self._release = release

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        try:
            close = getattr(self._chunks, "close", None)
            if close:
                close()
        finally:
            self._release()

    def __del__(self) -> None:
        self._release()
