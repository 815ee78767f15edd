"""Facets of a search (its top values per field, with exact counts) and the filters on the job's facts in SQL.

Fields of the log documents (job type, its version, stream, node) are counted by Elasticsearch: one composite
aggregation per field, exact (it walks every value, unlike a `terms` aggregation across shards, whose counts can
be approximate), paged until done, and the top values picked here.

The job's status and error category live in SQL, not on the documents (they change after the lines are written).
They are joined through the executions: a composite aggregation on `scale_job_exe.keyword` gives each matching
execution's number of matching lines (paged EXECUTIONS_PAGE at a time), the database maps those executions to
their job's facts in chunked `IN` queries (jobs.log_target_store.FACTS_CHUNK ids a query, on the unique
cluster_id index), and the counts are summed per value. Filtering by status or error category (resolve) takes
the same way back: the executions the rest of the search hits, those of them with the asked facts (SQL filters
each chunk), then the search restricted to those executions by `terms` on `scale_job_exe.keyword`. So the cost
grows with the number of executions a search hits, not with the number of executions in the database, nor
with the number of lines. A status filter's walk over the executions is kept with the resolved filters
(Filters.fact_counts), so facets of a filtered search take their status and error category counts from it
instead of walking the executions a second time.

Which fields some index maps as text (field_caps, see _from_source) is asked once per index pattern and fields
and remembered TEXT_FIELDS_SECONDS (TextFields): the answer changes only when the indices' mappings do (a first
legacy index mapping a field as text appears, or the last one goes), a rare event, and a stale answer is
either harmless (a runtime field where doc values would do: slower, same counts) or refused by Elasticsearch
(doc values asked of a text field: a 400), on which the answer is asked again and the search run once more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from elasticsearch import ApiError, Elasticsearch

from jobs.log_target_store import LogTargetStore
from search.errors import SearchRefused, guarded_read, strict_search
from search.finder import Filters, search_query
from search.patterns import refused_patterns

DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "job_type": ("scale_job_type",),
    "job_type_version": ("scale_job_version",),
    "stream": ("stream.keyword",),  # a keyword sub-field in our template and in legacy dynamic mappings alike
    "node": ("scale_node", "host"),  # as the node filter: a line of node X names it in scale_node or host
}
JOB_FIELDS = ("status", "error_category")
FIELDS = (*DOCUMENT_FIELDS, *JOB_FIELDS)
EXECUTION_FIELD = "scale_job_exe.keyword"
EXECUTIONS_PAGE = 10_000
VALUES_PAGE = 1_000
TEXT_FIELDS_SECONDS = 30.0


class TextFields:
    """Which of some fields an index pattern maps as text somewhere (field_caps), remembered `seconds` per
    (pattern, fields); thread-safe (gunicorn's gthread workers share one LogSearch)."""

    def __init__(self, seconds: float = TEXT_FIELDS_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._seconds = seconds
        self._clock = clock
        self._known: dict[tuple[str, tuple[str, ...]], tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def of(self, es: Elasticsearch, index: str, names: tuple[str, ...]) -> tuple[frozenset[str], bool]:
        """(the fields of `names` some index maps as text, whether the answer came from memory)."""
        if not names:
            return frozenset(), False
        key = (index, names)
        with self._lock:
            known = self._known.get(key)
        if known is not None and known[0] > self._clock():
            return known[1], True
        caps = guarded_read(
            lambda: es.field_caps(
                index=index, fields=list(names), ignore_unavailable=True, allow_no_indices=True, expand_wildcards="open"
            )
        ).body
        text = frozenset(name for name in names if "text" in caps.get("fields", {}).get(name, {}))
        with self._lock:
            self._known[key] = (self._clock() + self._seconds, text)
        return text, False

    def forget(self, index: str, names: tuple[str, ...]) -> None:
        with self._lock:
            self._known.pop((index, names), None)


def resolve(es: Elasticsearch, index: str, f: Filters, facts: LogTargetStore) -> Filters:
    """The filters with the executions (fact_cluster_ids) that the rest of the search hits and whose job has the
    asked status and error category in SQL."""
    if not f.has_job_facts:
        return f
    hit = execution_counts(es, index, replace(f, statuses=None, error_categories=None))
    found = facts.clusters_with_facts(hit, f.statuses, f.error_categories)
    return replace(f, fact_cluster_ids=sorted(found), fact_counts=hit)


def execution_counts(es: Elasticsearch, index: str, f: Filters) -> dict[str, int]:
    """The number of matching lines of each execution the search hits, by cluster id (exact)."""
    buckets: dict[str, dict[tuple, int]] = {"exe": {}}
    _walk(es, index, f, {"exe": composite((EXECUTION_FIELD,), EXECUTIONS_PAGE)}, {}, buckets)
    return {key[0]: n for key, n in buckets["exe"].items()}


def facets(
    es: Elasticsearch,
    index: str,
    f: Filters,
    fields: list[str],
    size: int,
    facts: LogTargetStore,
    text_fields: TextFields,
) -> tuple[int, dict[str, list[dict]]]:
    """(exact number of matches, {field: [{"value", "count"}, ...] the `size` most frequent, ties by value}).
    `f` is resolved (see resolve)."""
    doc_fields = [x for x in fields if x in DOCUMENT_FIELDS]
    aggs = {x: composite(DOCUMENT_FIELDS[x], VALUES_PAGE) for x in doc_fields}
    job_fields = [x for x in fields if x in JOB_FIELDS]
    per_exe: dict[str, int] | None = None
    if job_fields and f.fact_counts is not None and f.fact_cluster_ids is not None:
        # resolve walked the executions already: the resolved search's lines are those of fact_cluster_ids
        per_exe = {c: f.fact_counts[c] for c in f.fact_cluster_ids if c in f.fact_counts}
    elif job_fields:
        aggs["exe"] = composite((EXECUTION_FIELD,), EXECUTIONS_PAGE)
    buckets: dict[str, dict[tuple, int]] = {name: {} for name in aggs}
    names = tuple(src for x in doc_fields for src in DOCUMENT_FIELDS[x])
    text, remembered = text_fields.of(es, index, names)
    if not aggs and per_exe is not None:
        total = sum(per_exe.values())
    else:
        try:
            total = _walk(es, index, f, aggs, _from_source(text), buckets)
        except (ApiError, SearchRefused):
            if not remembered:
                raise
            text_fields.forget(index, names)  # the mappings may have changed since: ask again, and retry once
            fresh, _ = text_fields.of(es, index, names)
            if fresh == text:
                raise
            buckets = {name: {} for name in aggs}
            total = _walk(es, index, f, aggs, _from_source(fresh), buckets)
    counts: dict[str, dict[str, int]] = {x: {} for x in fields}
    for x in doc_fields:
        for key, n in buckets[x].items():
            for value in {v for v in key if v is not None}:  # scale_node and host alike: once
                counts[x][value] = counts[x].get(value, 0) + n
    if job_fields:
        if per_exe is None:
            per_exe = {key[0]: n for key, n in buckets["exe"].items()}
        by_cluster = facts.job_facts(per_exe)
        for cluster_id, n in per_exe.items():
            known = by_cluster.get(cluster_id)
            if known is None:  # a line of an execution unknown to the database: no job facts
                continue
            for x, value in zip(JOB_FIELDS, known[1:], strict=True):
                if x in counts and value is not None:
                    counts[x][value] = counts[x].get(value, 0) + n
    top = {
        x: [{"value": v, "count": n} for v, n in sorted(counts[x].items(), key=lambda kv: (-kv[1], kv[0]))[:size]]
        for x in fields
    }
    return total, top


def composite(fields: tuple[str, ...], size: int) -> dict:
    # Several fields (node): each combination of values, missing ones included, so a line counts once per value.
    several = len(fields) > 1
    sources = [{f"v{i}": {"terms": {"field": name, "missing_bucket": several}}} for i, name in enumerate(fields)]
    return {"composite": {"size": size, "sources": sources}}


def _from_source(text: frozenset[str]) -> dict:
    """Runtime keyword fields read from _source, shadowing the fields that some index of the search maps as text
    (legacy dynamic mappings: text with a .keyword sub-field, not aggregatable). Where every index maps them as
    keyword (ours), none: the aggregation reads doc values, much faster than parsing every match's _source."""
    return {name: {"type": "keyword"} for name in sorted(text)}


def _walk(
    es: Elasticsearch, index: str, f: Filters, aggs: dict, runtime: dict, counts: dict[str, dict[tuple, int]]
) -> int:
    """Page every composite aggregation of `aggs` to its end (one request for all of them a round, each round
    asking only for those not done), adding their buckets to counts[name]; returns the exact total of hits."""
    query = search_query(f)
    total = 0
    first = True
    while aggs:
        request: dict = {"query": query, "size": 0, "aggs": aggs, "track_total_hits": first}
        if runtime:
            request["runtime_mappings"] = runtime
        with refused_patterns(f.regex):
            resp = strict_search(es, index, **request).body
        if first:
            total = resp["hits"]["total"]["value"]
            first = False
        following = {}
        for name, agg in aggs.items():
            result = resp.get("aggregations", {}).get(name, {"buckets": []})  # none without any index
            for b in result["buckets"]:
                counts[name][tuple(b["key"].values())] = b["doc_count"]
            if len(result["buckets"]) == agg["composite"]["size"] and "after_key" in result:
                following[name] = {"composite": {**agg["composite"], "after": result["after_key"]}}
        aggs = following
    return total
