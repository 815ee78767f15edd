"""Exact context: the lines k-B ... k+A around the line numbered k, as positions of the execution's whole-log read.

Built on the ordered reads: the anchor's sort key by its scale_order_num, then B lines before it (a descending
search_after from the key) and A lines after it (search.windows.forward from the key). The sort key is unique
(search.queries.line_sort), so lines sharing one nanosecond keep their places: the answer is exactly the slice
of the whole-log read around the anchor, at either end of the log too (a side then holds fewer lines).
"""

from __future__ import annotations

from dataclasses import dataclass

from search.errors import AnchorNotFound
from search.lines import Line, line_of
from search.queries import line_sort, time_range
from search.windows import LONG_MAX, Search, Windowing, forward

MAX_CONTEXT = 1_000


@dataclass(frozen=True)
class Context:
    lines: list[Line]  # oldest first; the anchor's fields carry "anchor": True
    anchor: int  # its position in `lines`


def context(search: Search, query: dict, order_num: int, before: int, after: int, w: Windowing) -> Context:
    """The lines around the line numbered `order_num` among the lines of `query` (one execution's read)."""
    # Legacy lines are numbered by their nanosecond fraction, which two lines may share: the first one wins.
    found = search({"bool": {"filter": [query, {"term": {"scale_order_num": order_num}}]}}, line_sort(), 1, None)
    if not found:
        raise AnchorNotFound(f'No line numbered {order_num} in this log (parameter "around")')
    key = tuple(found[0]["sort"][:4])
    earlier = _before(search, query, key, before, w) if before else []
    later = forward(search, query, key, after, w) if after else []
    anchor = line_of(found[0])
    marked = Line({**anchor.fields, "anchor": True}, anchor.key, anchor.doc_index, anchor.doc_id)
    lines = [line_of(h) for h in reversed(earlier)] + [marked] + [line_of(h) for h in later]
    return Context(lines, len(earlier))


def _before(search: Search, query: dict, key: tuple, size: int, w: Windowing) -> list[dict]:
    """Up to `size` hits strictly before `key`, newest first.

    As search.windows.forward, mirrored: the lines numbered just below the anchor's give the earliest
    @timestamp of a window that, when it fills the page, holds exactly the lines before the key (every line
    outside it sorts earlier). Else a wider window, and at last the unbounded descending search."""
    span = w.span * size
    # An undated anchor (no @timestamp: it sorts at LONG_MAX) has undated lines just before it, which no
    # time window can single out: the plain descending search.
    for _ in range(w.tries if key[0] < LONG_MAX else 0):
        numbers = {"gte": max(key[1] - span, 0), "lt": key[1]}
        ranged = {"bool": {"filter": [query, {"range": {"scale_order_num": numbers}}]}}
        low_hits = search(ranged, line_sort()[:1], 1, None)
        if not low_hits or low_hits[0]["sort"][0] > key[0]:
            break
        within = {"bool": {"filter": [query, time_range(low_hits[0]["sort"][0], key[0])]}}
        hits = search(within, line_sort(descending=True), size, key)
        if len(hits) >= size:
            return hits
        if key[1] - span <= 0:  # the window already reached the first numbers: fall back to the full search
            break
        span *= w.growth
    return search(query, line_sort(descending=True), size, key)
