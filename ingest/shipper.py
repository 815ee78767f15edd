"""The shipper: accepted batches go to the spool first (fsync'd), then to Elasticsearch through the official
client's helpers.streaming_bulk from one background thread, which sends `streams` bulk requests at a time.

- Per item: 2xx stored, 409 already stored (a replay), 429/5xx retried, 401/403 (the credentials lack a
  privilege: a configuration to fix, not bad data) retried with an error logged, anything else is a permanent
  error: counted, logged and kept in `errors` (and on the batch) for the caller to surface.
- Whole requests: 429/502/503/504 are retried inside streaming_bulk; connection errors and any other
  failure keep the batches spooled and retry with capped exponential backoff until Elasticsearch answers.
- A batch leaves the spool only once every line of it is stored or permanently refused.
- Segments left behind by a dead process (crash, SIGKILL, Elasticsearch down at exit) are drained too.
The spool, its queue and the backlog metrics are ingest.log_writer's, shared with the Forwarder.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.helpers import streaming_bulk

from core import metrics
from ingest.log_writer import LogWriter, SpoolBatch
from ingest.template import LogTemplate, as_template, ensure_template

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 502, 503, 504)
REFUSED_CREDENTIALS = (401, 403)
# One bulk request at a time leaves the node idle while the shipper waits for its answer and builds the next.
# Measured here: the node itself took 44k lines/s over one connection and 71k over two (the ingest ceiling's
# sweep, bench/results/latest-full.json); the shipper went from about 40k to 46-51k lines/s with a second
# stream (bench/README.md, profiles), the rest of its time being its own Python work per line.
STREAMS = 2
# What the shipper reads of a bulk answer: every item keeps its _id and status (the helpers pair items with
# actions by position), and nothing else is decoded (about a fifth less of the client's time per line).
BULK_ANSWER = "errors,items.*._id,items.*.status,items.*.error"


class _Stamp:
    """streaming_bulk's expand step for (action, source) pairs that are serialized already: it adds the arrival
    time `event.ingested` (epoch milliseconds) to each source as the line goes into a bulk request.

    Follows read new lines in this order (search.follow): unlike @timestamp, which is when the line was captured
    and may be long before it reaches Elasticsearch (shipper batches, spool replays, several executors posting),
    it only grows, give or take the time a bulk request takes and the clocks of the shipping hosts. It is stamped
    here and not when the line is spooled, so that a replay after an outage is stamped when it is sent. One text
    per millisecond, shared by the lines of it (the two bulk threads may race on the cache: either value is
    right)."""

    def __init__(self) -> None:
        self._cached: tuple[int, bytes] = (-1, b"")

    def __call__(self, pair: Any) -> Any:
        action, source = pair
        ms = time.time_ns() // 1_000_000
        cached = self._cached
        if cached[0] != ms:
            cached = self._cached = (ms, b'{"event.ingested":%d,' % ms)
        if source[:1] != b"{" or source[1:2] == b"}":  # not one of bulk_pairs' sources: sent as it is
            return pair
        return action, cached[1] + source[1:]


class Shipper(LogWriter):
    name = "log shipper"

    def __init__(
        self,
        es: Elasticsearch,
        template: LogTemplate | str,
        spool_dir: Path,
        *,
        chunk_size: int = 5000,
        max_chunk_bytes: int = 8 * 1024 * 1024,
        streams: int = STREAMS,
        group_lines: int = 50_000,
        backoff: tuple[float, float] = (0.25, 15.0),
        orphan_scan_seconds: float = 30.0,
        request_timeout: float = 120.0,
    ):
        super().__init__(spool_dir, backoff=backoff, orphan_scan_seconds=orphan_scan_seconds)
        # The app's client gives up fast; bulk requests may take longer and we retry ourselves.
        self.es = es.options(request_timeout=request_timeout, max_retries=0)
        self.template = as_template(template)  # or just the prefix: the template's defaults
        self.prefix = self.template.prefix
        self.chunk_size = chunk_size
        self.max_chunk_bytes = max_chunk_bytes
        self.streams = streams
        self.group_lines = group_lines
        self._template_ok = False
        self._refused_items: str | None = None  # what refused items of the current pass (401/403) said
        self._ready_indices: set[str] = set()  # daily indices created (or found) by this process
        self._begin()

    # Sender side -----------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff[0]
        last_scan = 0.0
        while True:
            if time.monotonic() - last_scan >= self.orphan_scan_seconds:
                last_scan = time.monotonic()
                self.adopt_orphans()
            with self._cond:
                while not self._pending and not self._abandon:
                    if not self._cond.wait(self.orphan_scan_seconds):
                        break
                if self._abandon:
                    return
                group = self._take_group()
            if not group:
                continue
            if self._ship(group):
                delay = self.backoff[0]
            else:
                # Jitter keeps several shippers from hammering a recovering node in step.
                self._wake.wait(delay * random.uniform(0.8, 1.2))
                self._wake.clear()
                delay = min(delay * 2, self.backoff[1])

    def _take_group(self) -> list[SpoolBatch]:
        group: list[SpoolBatch] = []
        lines = 0
        for batch in self._pending:
            if group and lines + len(batch.ids) > self.group_lines:
                break
            group.append(batch)
            lines += len(batch.ids)
        return group

    def _ship(self, group: list[SpoolBatch]) -> bool:
        """One pass over the group (`streams` streaming_bulks); True when no batch has to be retried."""
        where: dict[str, tuple[SpoolBatch, int]] = {}
        self._refused_items = None
        for batch in group:
            batch.retry = False
            batch.stored, batch.duplicates, batch.errors = len(batch.ids), 0, []
            for position, _id in enumerate(batch.ids):
                where[_id] = (batch, position)
        try:
            if not self._template_ok:
                ensure_template(self.es, self.template)
                self._template_ok = True
            self._create_indices(set().union(*(batch.indices for batch in group)))
            pairs = (pair for batch in group for pair in batch.pairs)
            for item in self._bulk(pairs):
                self._failed_item(item, where)
            if self._refused_items:
                self.last_failure = self._refused_items
                log.error("Elasticsearch refused to store log lines, they stay spooled: %s", self._refused_items)
        except (TransportError, ApiError) as exc:
            self._failed(exc)
            if isinstance(exc, ApiError) and exc.meta.status in REFUSED_CREDENTIALS:
                log.error(
                    "Elasticsearch refused the service's credentials (%s), %d lines stay spooled: %s",
                    exc.meta.status,
                    sum(len(b.ids) for b in group),
                    exc,
                )
                return False
            log.warning(
                "Elasticsearch unavailable, %d lines stay spooled: %s",
                sum(len(b.ids) for b in group),
                self.last_failure,
            )
            return False
        done = [b for b in group if not b.retry]
        with self._cond:
            self._unqueue(done)
            for batch in done:
                self.stored += batch.stored
                self.duplicates += batch.duplicates
                metrics.LINES_STORED.inc(batch.stored)
                metrics.LINES_DUPLICATE.inc(batch.duplicates)
                if batch.segment is not None:
                    self.spool.done(batch.segment)
                batch.finished.set()
            self._cond.notify_all()
        self.failing = len(done) != len(group)
        if self.failing:
            metrics.SHIPPER_RETRIES.inc()
        return not self.failing

    def _bulk(self, pairs: Iterator[tuple[bytes, bytes]]) -> list[dict]:
        """Send the pairs as `streams` streaming_bulks side by side, each taking the next pairs when it starts a
        request; returns the items that failed. Lines land out of order across requests, as they may anyway:
        readers sort, and a follow re-reads its lookback window."""
        shared = _Shared(pairs)
        stamp = _Stamp()
        failed: list[dict] = []
        errors: list[Exception] = []

        def stream() -> None:
            try:
                # The client's types expect actions to expand; ours are (action, source) lines serialized once.
                actions: Iterable[Any] = shared
                for _ok, item in streaming_bulk(
                    self.es,
                    actions,
                    expand_action_callback=stamp,
                    chunk_size=self.chunk_size,
                    max_chunk_bytes=self.max_chunk_bytes,
                    raise_on_error=False,
                    yield_ok=False,
                    max_retries=3,
                    initial_backoff=0.5,
                    max_backoff=4,
                    retry_on_status=RETRY_STATUSES,
                    filter_path=BULK_ANSWER,
                ):
                    failed.append(item)
            except Exception as exc:  # re-raised in the shipper's thread, which decides what it means
                errors.append(exc)
                shared.stop()

        threads = [threading.Thread(target=stream, name="log-shipper-bulk") for _ in range(self.streams - 1)]
        for thread in threads:
            thread.start()
        stream()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return failed

    def _failed(self, exc: TransportError | ApiError) -> None:
        self.last_failure = f"{type(exc).__name__}: {exc}"
        status = f" {exc.meta.status} {exc.error}" if isinstance(exc, ApiError) else ""
        self.last_failure_reason = f"{type(exc).__name__}{status}"
        self.last_failure_at = time.time()
        self.failing = True
        metrics.ELASTICSEARCH_ERRORS.labels("shipper").inc()
        metrics.SHIPPER_RETRIES.inc()
        metrics.SHIPPER_LAST_FAILURE.set(self.last_failure_at)

    def _create_indices(self, indices: set[str]) -> None:
        """Create each daily index not seen yet and wait for its primary: a search hitting an index whose
        primary is still initializing fails (503 all shards failed), as when bulk creates it on the fly."""
        for index in sorted(indices - self._ready_indices):
            try:
                self.es.indices.create(index=index, wait_for_active_shards="1")
            except ApiError as exc:
                if exc.meta.status == 429 or exc.meta.status >= 500 or exc.meta.status in REFUSED_CREDENTIALS:
                    raise  # retried with the batches
                if exc.error != "resource_already_exists_exception":
                    log.warning("could not create index %s: %s", index, exc)  # bulk reports it per line
            self._ready_indices.add(index)

    def _failed_item(self, item: dict, where: dict[str, tuple[SpoolBatch, int]]) -> None:
        info = next(iter(item.values()))
        status = info.get("status", 500)
        batch, position = where[info["_id"]]
        batch.stored -= 1
        if status == 409:
            batch.duplicates += 1
        elif status == 429 or status >= 500:
            batch.retry = True
        elif status in REFUSED_CREDENTIALS:
            batch.retry = True
            self._refused_items = f"{status}: {info.get('error')}"  # logged once per pass, by _ship
        else:
            error = {"line": position + 1, "status": status, "_id": info["_id"], "error": info.get("error")}
            batch.errors.append(error)
            self.errors.append(error)
            self.error_count += 1
            metrics.LINES_REFUSED.inc()
            log.error("Elasticsearch refused log line %s: %s", info["_id"], info.get("error"))


class _Shared:
    """One iterator for several threads: each next() under a lock; after stop() it ends for all of them."""

    def __init__(self, items: Iterator[Any]):
        self._items = items
        self._lock = threading.Lock()
        self._stopped = False

    def __iter__(self) -> _Shared:
        return self

    def __next__(self) -> Any:
        with self._lock:
            if self._stopped:
                raise StopIteration
            return next(self._items)

    def stop(self) -> None:
        self._stopped = True
