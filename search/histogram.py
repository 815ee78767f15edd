"""Matches over time: a date histogram of a search's lines, optionally split by stream.

Every count is exact: the total is counted with track_total_hits, and the buckets of the same request hold every
dated match (min_doc_count 0 keeps empty buckets, so the series has no holes); lines without @timestamp are
counted apart (`undated`), so the buckets plus `undated` equal the total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from core.times import format_ns, ns_of
from search.errors import SearchRefused, strict_search
from search.finder import Filters, search_query
from search.patterns import refused_patterns
from search.queries import exact

MAX_AUTO_BUCKETS = 200
MAX_BUCKETS = 10_000  # an explicit interval may ask for more, up to Elasticsearch's search.max_buckets' order
UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
INTERVAL = re.compile(r"^([1-9][0-9]{0,8})(ms|s|m|h|d)$")
# Intervals `auto` picks from: the smallest giving at most MAX_AUTO_BUCKETS buckets.
NICE = [
    "1ms",
    "10ms",
    "100ms",
    "1s",
    "5s",
    "10s",
    "30s",
    "1m",
    "5m",
    "10m",
    "30m",
    "1h",
    "3h",
    "6h",
    "12h",
    "1d",
    "7d",
    "30d",
    "90d",
    "365d",
    "3650d",
    "36500d",
    "365000d",
]
STREAMS = ("stdout", "stderr")


@dataclass(frozen=True)
class Histogram:
    total: int
    undated: int
    interval: str
    buckets: list[dict]  # {"start", "count"} (+ "streams": {"stdout", "stderr", "other"} when split)


def interval_ms(text: str) -> int:
    """An Elasticsearch fixed interval (a whole number and ms, s, m, h or d) in milliseconds; ValueError if not."""
    m = INTERVAL.match(text)
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * UNIT_MS[m.group(2)]


def buckets_between(low_ms: int, high_ms: int, step_ms: int) -> int:
    return high_ms // step_ms - low_ms // step_ms + 1


def histogram(es: Elasticsearch, index: str, f: Filters, interval: str | None, by_stream: bool) -> Histogram:
    """`interval` None = auto. SearchRefused when an explicit interval would make more than MAX_BUCKETS buckets."""
    query = search_query(f)
    low, high = (
        (ns_of(f.started) // 1_000_000 if f.started else None),
        (ns_of(f.ended) // 1_000_000 if f.ended else None),
    )
    if low is None or high is None:  # the span of the matches themselves
        span = _search(
            es,
            index,
            query,
            {"low": {"min": {"field": "@timestamp"}}, "high": {"max": {"field": "@timestamp"}}},
            f.regex,
        )
        aggs = span.get("aggregations", {})
        if aggs.get("low", {}).get("value") is None:  # nothing dated matches
            undated = span["hits"]["total"]["value"]
            return Histogram(undated, undated, interval or NICE[0], [])
        low = int(aggs["low"]["value"]) if low is None else low
        high = int(aggs["high"]["value"]) if high is None else high
    if interval is None:
        interval = next((n for n in NICE if buckets_between(low, high, interval_ms(n)) <= MAX_AUTO_BUCKETS), NICE[-1])
    elif buckets_between(low, high, interval_ms(interval)) > MAX_BUCKETS:
        raise SearchRefused(
            f'Parameter "interval": {interval} makes more than {MAX_BUCKETS} buckets over these matches; '
            "choose a longer one or interval=auto"
        )
    hist: dict = {
        "date_histogram": {"field": "@timestamp", "fixed_interval": interval, "min_doc_count": 0},
    }
    if f.started or f.ended:  # empty buckets across the whole asked window, not just where matches are
        hist["date_histogram"]["extended_bounds"] = {"min": low, "max": high}
    if by_stream:
        hist["aggs"] = {
            "streams": {
                "filters": {
                    "filters": {s: exact("stream", [s]) for s in STREAMS},
                    "other_bucket_key": "other",
                }
            }
        }
    resp = _search(es, index, query, {"time": hist, "undated": {"missing": {"field": "@timestamp"}}}, f.regex)
    buckets = []
    for b in resp["aggregations"]["time"]["buckets"]:
        out = {"start": format_ns(int(b["key"]) * 1_000_000), "count": b["doc_count"]}
        if by_stream:
            out["streams"] = {k: v["doc_count"] for k, v in b["streams"]["buckets"].items()}
        buckets.append(out)
    undated = resp["aggregations"]["undated"]["doc_count"]
    return Histogram(resp["hits"]["total"]["value"], undated, interval, buckets)


def _search(es: Elasticsearch, index: str, query: dict, aggs: dict, regex: str | None) -> dict:
    with refused_patterns(regex):
        return strict_search(es, index, query=query, size=0, track_total_hits=True, aggs=aggs).body
