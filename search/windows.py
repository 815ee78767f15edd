"""Sorted reads whose cost does not grow with the depth of the log: each search is bounded to a time window.

Why (bench/results/profiles/README.md): Lucene skips the documents that can't make a sorted page only while the
competitive range of the first sort field is narrow. A descending search (the tail) visits every line of the
execution, and a search_after page visits every line before its cursor unless fewer than an eighth of the
index's lines come after it: at 3M lines a page in the middle cost 20 times one at the start. The
`numeric_type` cast of line_sort is not the cause (the same searches without it cost the same), so the
sort stays one sort over ours and legacy indices.

How: our lines carry an order number per execution (scale_order_num: 1, 2, ... as received), indexed as a long.
The lines just after a cursor are, roughly, the ones numbered just after its number: one small search on that
range of numbers gives their latest @timestamp, which closes the page's time window; for the tail, the lines
numbered up to the execution's line count give the earliest @timestamp of the last ones. A search on such a
window visits about as many lines as the page holds. It is exact whenever it fills the page, because every
line outside the window sorts after (before, for the tail) every line in it; when it does not (numbers with
gaps, a stream filter, legacy lines whose number is a nanosecond fraction), the next window is `growth` times
wider, and after `tries` windows the read is the unbounded search of before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from search.queries import line_sort, time_range

LONG_MAX = 2**63 - 1  # the sort value of a line without @timestamp (ascending), and date_nanos' last instant
# (query, sort, size, search_after) -> hits, on the reader's indices or point-in-time.
Search = Callable[[dict, list, int, "tuple | None"], list[dict]]


@dataclass(frozen=True)
class Windowing:
    # An execution with at most this many lines has its tail read by one plain descending search (it is cheap,
    # and it saves the count and the bound's search).
    small: int = 50_000
    span: int = 2  # the first window: the lines numbered up to span × the page after the cursor
    growth: int = 8
    tries: int = 3


WINDOWING = Windowing()


def forward(
    search: Search, query: dict, after: tuple | None, size: int, w: Windowing, previous: list[dict] | None = None
) -> list[dict]:
    """Up to `size` hits strictly after `after`, in line order. `previous`: the hits of the read that ended at
    `after` (a stream's last chunk): the first window is then as long in time as they were, twice over, instead
    of one more search to bound it."""
    if after is None:  # the first page: Lucene stops early on its own, the queue fills with the first lines
        return search(query, line_sort(), size, None)
    got: list[dict] = []
    key, low, span = after, after[0], w.span * size
    high = _extrapolated(previous, size, w.span) if previous else None
    for _ in range(w.tries):
        if high is None:
            high = _bound(search, query, {"gt": key[1], "lte": key[1] + span}, descending=True)
            if high is None or high < low:  # no line numbered after the cursor's: nothing to bound the window with
                break
        hits = search(_within(query, low, high), line_sort(), size - len(got), key)
        got += hits
        if len(got) >= size:
            return got
        # Every line up to `high` after the cursor has been read: the next window starts after it.
        key, low, span, high = (
            (tuple(hits[-1]["sort"][:4]) if hits else key),
            min(high + 1, LONG_MAX),
            span * w.growth,
            None,
        )
    # Lines without @timestamp sort after every line that has one: only this last, open window can hold them.
    undated = {"bool": {"must_not": [{"exists": {"field": "@timestamp"}}]}}
    rest = {"bool": {"filter": [query], "should": [time_range(low, None), undated], "minimum_should_match": 1}}
    return got + search(rest, line_sort(), size - len(got), key)


def backward(search: Search, count: Callable[[], int], query: dict, size: int, w: Windowing) -> list[dict]:
    """The last `size` hits, newest first."""
    total = count()
    if total <= w.small:
        return search(query, line_sort(descending=True), size, None)
    span = w.span * size
    for _ in range(w.tries):
        low = _bound(search, query, {"gt": total - span}, descending=False)
        if low is not None:  # None: fewer numbers than lines counted (legacy lines are counted too)
            hits = search(_within(query, low, None), line_sort(descending=True), size, None)
            if len(hits) >= size:  # every line before `low` sorts before all of these
                return hits
        span *= w.growth
    return search(query, line_sort(descending=True), size, None)


def _bound(search: Search, query: dict, numbers: dict, descending: bool) -> int | None:
    """The latest (descending) or earliest @timestamp, in nanoseconds, of the lines of `query` whose
    scale_order_num is in the range `numbers`; None when there is none."""
    ranged = {"bool": {"filter": [query, {"range": {"scale_order_num": numbers}}]}}
    hits = search(ranged, line_sort(descending=descending)[:1], 1, None)  # only the time matters here
    return hits[0]["sort"][0] if hits else None


def _extrapolated(previous: list[dict], size: int, span: int) -> int | None:
    """The end of a window `span` times as long as `size` lines took in `previous` (None if they took no time)."""
    first, last = previous[0]["sort"][0], previous[-1]["sort"][0]
    if last <= first:
        return None
    return min(last + -(-(last - first) * span * size // max(len(previous) - 1, 1)), LONG_MAX)


def _within(query: dict, low: int, high: int | None) -> dict:
    """`query` and @timestamp in [low, high] (no upper bound for None)."""
    return {"bool": {"filter": [query, time_range(low, high)]}}
