"""Every match of a search, with no cap: cursor pages and the export, both on a point-in-time.

A walk opens a point-in-time (PIT) on its first page: every later page reads that same snapshot, with
search_after on the line sort plus _shard_doc (unique within a PIT, whatever the legacy indices' shards), so a
walk over millions of matches gives each exactly once. The cursor carries the PIT id (Elasticsearch may change
it from page to page), the last sort values, the total counted on the first page, the order, and a digest of
the query, so a cursor is refused on a search it was not made for. The PIT lives WALK_KEEP_ALIVE after each page;
past that, or after a node restart, the cursor has expired (CursorExpired; the API answers 410).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace

from elasticsearch import ApiError, Elasticsearch

from search.cursor import InvalidCursor
from search.errors import CursorExpired, guarded, guarded_read
from search.finder import HIGHLIGHT, Filters, hit_of, search_query
from search.patterns import refused_patterns
from search.queries import LINE_SOURCE, line_sort

VERSION = "2"
WALK_KEEP_ALIVE = "5m"
EXPORT_CHUNK = 2_000


@dataclass(frozen=True)
class WalkCursor:
    pit_id: str
    after: list  # the last hit's sort values
    total: int
    newest_first: bool
    digest: str  # of the query and order the walk was started for

    def encode(self) -> str:
        raw = json.dumps([self.pit_id, self.after, self.total, self.newest_first, self.digest], separators=(",", ":"))
        return VERSION + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str) -> WalkCursor:
    """The cursor in `text`; InvalidCursor when it is not one this service made."""
    if not text.startswith(VERSION):
        raise InvalidCursor("unknown cursor version")
    body = text[len(VERSION) :]
    try:
        values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("malformed cursor") from None
    kinds = (str, list, int, bool, str)
    if not isinstance(values, list) or len(values) != 5 or not all(isinstance(v, k) for v, k in zip(values, kinds)):
        raise InvalidCursor("malformed cursor")
    if len(values[1]) != 5 or not all(isinstance(v, (int, str)) for v in values[1]):
        raise InvalidCursor("malformed cursor")
    return WalkCursor(*values)


def digest(f: Filters, newest_first: bool) -> str:
    # The job's facts by name, not the executions they were resolved to on this page: a job whose status changes
    # during a walk moves its lines in or out of the later pages, and the cursor stays valid.
    named = replace(f, fact_cluster_ids=[] if f.has_job_facts else None)
    text = json.dumps([search_query(named), f.statuses, f.error_categories, newest_first], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def walk_sort(newest_first: bool) -> list:
    return line_sort(descending=newest_first) + [{"_shard_doc": {"order": "desc" if newest_first else "asc"}}]


class Walker:
    def __init__(self, es: Elasticsearch, index: str):
        self._es = es
        self._index = index

    def page(
        self, f: Filters, size: int, newest_first: bool, cursor: WalkCursor | None
    ) -> tuple[int, list[dict], WalkCursor | None]:
        """(total, hits, the cursor of the next page or None at the end). `cursor` None starts a walk."""
        check = digest(f, newest_first)
        if cursor is None:
            pit_id, after, total = self._open(), None, None
        else:
            if cursor.digest != check or cursor.newest_first != newest_first:
                raise InvalidCursor("the cursor belongs to another search (its filters or order differ)")
            pit_id, after, total = cursor.pit_id, cursor.after, cursor.total
        try:
            resp = self._search(pit_id, f, newest_first, size + 1, after, count=total is None, highlight=True)
        except ApiError as exc:
            if cursor is not None and exc.meta.status == 404:  # "No search context found": the PIT is gone
                raise CursorExpired("The cursor has expired (its point-in-time is gone): start the walk over") from exc
            if cursor is not None and exc.meta.status == 400:  # a PIT id Elasticsearch can't read: not ours
                raise InvalidCursor("malformed cursor") from exc
            raise
        hits = resp.get("hits", {})
        raw = hits.get("hits", [])
        if total is None:
            total = hits.get("total", {}).get("value", 0)
        pit_id = resp.get("pit_id", pit_id)
        if len(raw) <= size:
            self._close(pit_id)
            return total, [hit_of(h) for h in raw], None
        raw = raw[:size]
        return total, [hit_of(h) for h in raw], WalkCursor(pit_id, raw[-1]["sort"], total, newest_first, check)

    def export(self, f: Filters) -> Iterator[dict]:
        """Every match, oldest first, in chunks on one PIT (memory stays flat); the PIT closes when done."""
        pit_id = self._open()
        try:
            after = None
            while True:
                resp = self._search(pit_id, f, False, EXPORT_CHUNK, after, count=False, highlight=False)
                pit_id = resp.get("pit_id", pit_id)
                raw = resp.get("hits", {}).get("hits", [])
                for hit in raw:
                    out = hit_of(hit)
                    del out["highlight"]
                    yield out
                if len(raw) < EXPORT_CHUNK:
                    return
                after = raw[-1]["sort"]
        finally:
            self._close(pit_id)

    def _open(self) -> str:
        return guarded_read(
            lambda: self._es.open_point_in_time(
                index=self._index, keep_alive=WALK_KEEP_ALIVE, ignore_unavailable=True, expand_wildcards="open"
            )
        )["id"]

    def _close(self, pit_id: str) -> None:
        try:
            self._es.close_point_in_time(id=pit_id)
        except Exception:  # it expires by itself; a failed close must not fail the page
            pass

    def _search(self, pit_id, f: Filters, newest_first: bool, size: int, after, count: bool, highlight: bool) -> dict:
        with refused_patterns(f.regex), guarded():  # no retries: a 404 here means the PIT is gone, no retry mends
            resp = self._es.search(
                pit={"id": pit_id, "keep_alive": WALK_KEEP_ALIVE},
                allow_partial_search_results=False,
                query=search_query(f),
                sort=walk_sort(newest_first),
                size=size,
                search_after=after,
                source=LINE_SOURCE,
                track_total_hits=count,
                highlight=HIGHLIGHT if highlight and f.text else None,
                filter_path=["pit_id", "hits.total", "hits.hits._source", "hits.hits.sort", "hits.hits.highlight"],
            )
        return resp.body
