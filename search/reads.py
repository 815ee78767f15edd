"""Ordered reads of one execution's log lines: pages after a cursor, the tail, the whole log, following."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from core.times import ns_of
from search.context import Context, context
from search.errors import guarded_read, strict_search
from search.follow import ENDED as ENDED  # re-exported: what a follow yields besides lines
from search.follow import HEARTBEAT as HEARTBEAT
from search.follow import IDLE as IDLE
from search.follow import (
    Followed,
    Follower,
    FollowTiming,
    Position,
    start_of_execution,
    start_of_search,
)
from search.follow import _Sent as _Sent  # re-exported for the test of its bound
from search.lines import Line, line_of
from search.patterns import refused_patterns
from search.queries import LINE_SOURCE, exact, line_sort, time_range
from search.windows import WINDOWING, Windowing, backward, forward

MAX_PAGE = 10_000  # Elasticsearch's default max_result_window
CHUNK = 2_000  # lines per request when streaming a whole log
PIT_KEEP_ALIVE = "2m"
FOLLOW_HITS = ["hits.hits._index", "hits.hits._id", "hits.hits._source", "hits.hits.sort", "hits.hits.highlight"]
DEFAULT_TIMING = FollowTiming()
HITS_ONLY = ["hits.hits._index", "hits.hits._id", "hits.hits._source", "hits.hits.sort", "pit_id"]


@dataclass(frozen=True)
class Window:
    """Which lines of an execution: streams (None = both) and an inclusive @timestamp range."""

    streams: tuple[str, ...] | None = None
    started: datetime | None = None
    ended: datetime | None = None


class LogSearch:
    def __init__(
        self,
        es: Elasticsearch,
        indices: tuple[str, ...],
        timing: FollowTiming = DEFAULT_TIMING,
        windowing: Windowing = WINDOWING,
    ):
        self._es = es
        self._index = ",".join(indices)
        self.timing = timing
        self.windowing = windowing  # how reads bound their searches in time (search.windows)
        self._stopping = threading.Event()  # stop_follows
        from search.facets import TextFields

        self._text_fields = TextFields()  # field_caps answers of facets, remembered a short time

    def stop_follows(self) -> None:
        """The process is stopping (a stop or a reload): every follow of this LogSearch, running or to come, ends
        within a poll, so the process need not wait for them until it is killed; clients resume elsewhere from
        their last event's id."""
        self._stopping.set()

    def cluster_info(self) -> dict:
        """The cluster's name and version; raises when it does not answer."""
        info = self._es.info()
        return {"version": info["version"]["number"], "cluster_name": info["cluster_name"]}

    # --- reads -------------------------------------------------------------------------------------

    def page(
        self, cluster_id: str, window: Window, after: tuple | None = None, limit: int = 1000
    ) -> tuple[list[Line], bool]:
        """Up to `limit` lines strictly after `after`, and whether more follow."""
        query = self.query(cluster_id, window)
        hits = forward(self._search, query, after, min(limit + 1, MAX_PAGE), self.windowing)
        more = len(hits) > limit
        if len(hits) == limit == MAX_PAGE:  # size can't exceed the window: ask for one more separately
            more = bool(forward(self._search, query, tuple(hits[-1]["sort"][:4]), 1, self.windowing))
        return [line_of(h) for h in hits[:limit]], more

    def tail(self, cluster_id: str, window: Window, count: int) -> list[Line]:
        """The last `count` lines, oldest first."""
        query = self.query(cluster_id, window)
        hits = backward(self._search, lambda: self._count(cluster_id), query, min(count, MAX_PAGE), self.windowing)
        return [line_of(h) for h in reversed(hits)]

    def stream(self, cluster_id: str, window: Window, after: tuple | None = None) -> Iterator[Line]:
        """Every line after `after`, read in chunks with search_after on a point-in-time (bounded memory)."""
        return self.stream_query(self.query(cluster_id, window), after)

    def stream_query(self, query: dict, after: tuple | None = None) -> Iterator[Line]:
        """Every line of `query` after `after`, as stream()."""
        pit_id = guarded_read(
            lambda: self._es.open_point_in_time(
                index=self._index, keep_alive=PIT_KEEP_ALIVE, ignore_unavailable=True, expand_wildcards="open"
            )
        )["id"]

        def search(query: dict, sort: list, size: int, search_after: tuple | None) -> list[dict]:
            nonlocal pit_id
            resp = guarded_read(
                lambda: self._es.search(
                    pit={"id": pit_id, "keep_alive": PIT_KEEP_ALIVE},
                    allow_partial_search_results=False,
                    query=query,
                    sort=sort,
                    size=size,
                    search_after=list(search_after) if search_after else None,
                    source=LINE_SOURCE,
                    track_total_hits=False,
                    filter_path=HITS_ONLY,
                )
            )
            pit_id = resp.get("pit_id", pit_id)
            return resp.get("hits", {}).get("hits", [])

        try:
            hits = None
            while True:
                hits = forward(search, query, after, CHUNK, self.windowing, hits)
                for hit in hits:
                    yield line_of(hit)
                if len(hits) < CHUNK:
                    return
                after = tuple(hits[-1]["sort"][:4])
        finally:
            try:
                self._es.close_point_in_time(id=pit_id)
            except Exception:  # it expires by itself; a failed close must not hide the real outcome
                pass

    def around(self, cluster_id: str, window: Window, order_num: int, before: int, after: int) -> Context:
        """The `before` lines before the line numbered `order_num`, it, and the `after` lines after it
        (search.context); AnchorNotFound when the read has no such line."""
        return context(self._search, self.query(cluster_id, window), order_num, before, after, self.windowing)

    def has_lines(self, cluster_id: str) -> bool:
        """Whether any line of the execution is left, of any stream and time."""
        return bool(self._search(self.query(cluster_id, Window()), line_sort(), 1))

    def scan(self, cluster_id: str, window: Window, since_ns: int | None = None) -> Iterator[Line]:
        """Lines at or after `since_ns`, in chunks without a point-in-time (for short, repeated reads)."""
        query, after, hits = self.query(cluster_id, window, since_ns), None, None
        while True:
            hits = forward(self._search, query, after, CHUNK, self.windowing, hits)
            for hit in hits:
                yield line_of(hit)
            if len(hits) < CHUNK:
                return
            after = tuple(hits[-1]["sort"][:4])

    def follow(
        self,
        cluster_id: str,
        window: Window,
        after: tuple | Position | None,
        ended_ago: Callable[[], float | None],
        max_seconds: float,
    ) -> Iterator[Followed | str]:
        """The lines after `after` (a line cursor, or a follow token's Position), then new ones as they arrive
        (search.follow), until the execution has ended (then ENDED) or `max_seconds` have passed.

        `ended_ago()` is how many seconds ago the execution ended, None while it runs: following goes on until
        end_grace_seconds (and settle_seconds) after the end, for the last lines to become searchable."""
        pos = after if isinstance(after, Position) else start_of_execution(self.timing, after)
        follower = Follower(self._follow_search, self.query(cluster_id, window), self.timing, stopping=self._stopping)
        yield from follower.run(pos, self.stream_query, ended_ago, max_seconds)

    def follow_search(
        self, filters, pos: Position | None, max_seconds: float, make: Callable[[dict], Any]
    ) -> Iterator[Followed | str]:
        """New lines matching a search (search.finder.Filters) as they arrive, from `pos` (None: from now), for
        `max_seconds`; `make(hit)` builds what is sent of each."""
        from search.finder import HIGHLIGHT, search_query

        pos = pos or start_of_search()
        highlight = HIGHLIGHT if filters.text else None
        follower = Follower(
            self._follow_search, search_query(filters), self.timing, make, highlight, stopping=self._stopping
        )
        with refused_patterns(filters.regex):
            yield from follower.run(pos, None, lambda: None, max_seconds)

    def _follow_search(self, query: dict, sort: list, size: int, search_after, highlight) -> list[dict]:
        resp = strict_search(
            self._es,
            self._index,
            query=query,
            sort=sort,
            size=size,
            search_after=search_after,
            source=LINE_SOURCE,
            track_total_hits=False,
            highlight=highlight,
            filter_path=FOLLOW_HITS,
        )
        return resp.get("hits", {}).get("hits", [])

    def search(self, filters, offset: int, size: int, newest_first: bool = True) -> tuple[int, list[dict]]:
        """Lines across executions (search.finder.Filters): (total, hits of the page)."""
        from search.finder import search_lines

        return search_lines(self._es, self._index, filters, offset, size, newest_first)

    def walker(self):
        """Cursor pages and the export of a search (search.walk.Walker), on these indices."""
        from search.walk import Walker

        return Walker(self._es, self._index)

    def histogram(self, filters, interval: str | None, by_stream: bool):
        """Matches over time (search.histogram); `interval` None picks one (at most 200 buckets)."""
        from search.histogram import histogram

        return histogram(self._es, self._index, filters, interval, by_stream)

    def executions_matching(self, filters, offset: int, size: int) -> tuple[int, list[dict]]:
        """group=execution (search.groups): (number of executions, rows of the page)."""
        from search.groups import executions_matching

        return executions_matching(self._es, self._index, filters, offset, size)

    def resolve(self, filters, facts):
        """The filters with status and error_category turned into the executions that have them (search.facets);
        `facts` is the jobs.log_target_store.LogTargetStore that knows each execution's job."""
        from search.facets import resolve

        return resolve(self._es, self._index, filters, facts)

    def facets(self, filters, fields: list[str], size: int, facts) -> tuple[int, dict[str, list[dict]]]:
        """(exact total, the top `size` values of each field with counts) of a resolved search (search.facets)."""
        from search.facets import facets

        return facets(self._es, self._index, filters, fields, size, facts, self._text_fields)

    # --- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def query(cluster_id: str, window: Window, since_ns: int | None = None) -> dict:
        filters = [exact("scale_job_exe", [cluster_id])]
        if window.streams:
            filters.append(exact("stream", list(window.streams)))
        started = ns_of(window.started) if window.started else None
        if since_ns is not None:
            started = since_ns if started is None else max(started, since_ns)
        span = time_range(started, ns_of(window.ended) if window.ended else None)
        if span:
            filters.append(span)
        return {"bool": {"filter": filters}}

    def _count(self, cluster_id: str) -> int:
        """Lines of the execution, of any stream and time (cheap: the number of documents of one term)."""
        resp = guarded_read(
            lambda: self._es.count(
                index=self._index,
                ignore_unavailable=True,
                allow_no_indices=True,
                expand_wildcards="open",
                query=self.query(cluster_id, Window()),
            )
        )
        return resp["count"]

    def _search(self, query: dict, sort: list, size: int, after: tuple | None = None) -> list[dict]:
        resp = strict_search(
            self._es,
            self._index,
            query=query,
            sort=sort,
            size=size,
            search_after=list(after) if after else None,
            source=LINE_SOURCE,
            track_total_hits=False,
            filter_path=HITS_ONLY,
        )
        return resp.get("hits", {}).get("hits", [])
