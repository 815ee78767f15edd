"""Search across executions: matching lines with their job, paginated by offset, highlighted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from elasticsearch import Elasticsearch

from core.times import ns_of
from search.errors import SearchRefused, strict_search
from search.lines import as_int, line_of
from search.patterns import refused_patterns, regex_query
from search.queries import LINE_SOURCE, exact, line_sort, time_range
from search.text import text_query

MAX_WINDOW = 10_000  # offset + page size Elasticsearch serves by default
HIGHLIGHT = {
    "encoder": "html",  # the fragment is HTML-escaped apart from the <em> tags
    "pre_tags": ["<em>"],
    "post_tags": ["</em>"],
    "fields": {"message": {"number_of_fragments": 1, "fragment_size": 300, "no_match_size": 300}},
}


@dataclass(frozen=True)
class Filters:
    text: str | None = None
    cluster_ids: list[str] | None = None
    job_ids: list[int] | None = None
    job_type_names: list[str] | None = None
    streams: list[str] | None = None
    nodes: list[str] | None = None
    started: datetime | None = None
    ended: datetime | None = None
    regex: str | None = None  # Lucene RegExp over the whole line (search.patterns)
    job_type_versions: list[str] | None = None
    # The job's facts in SQL. search.facets.resolve finds the executions that have them (fact_cluster_ids) before
    # any search runs; the facts stay, so a walk's cursor digest names them rather than the executions found.
    statuses: list[str] | None = None
    error_categories: list[str] | None = None
    fact_cluster_ids: list[str] | None = None
    # resolve's by-product: the matching lines of each execution the rest of the search hits (those of
    # fact_cluster_ids are then exactly the resolved search's), so facets need not walk the executions again.
    # Not part of the query nor of equality (a walk's digest is made from search_query).
    fact_counts: dict[str, int] | None = field(default=None, compare=False, repr=False)

    @property
    def has_job_facts(self) -> bool:
        return bool(self.statuses or self.error_categories)


# Only Scale's log lines: documents carrying an execution's id and a line number. The legacy patterns
# (LOG_LEGACY_INDICES, default `logstash-*`) are shared with whatever else logs into the cluster, and a search
# without filters would otherwise return other applications' documents to anyone who may read logs.
SCALE_LINE: list[dict] = [{"exists": {"field": "scale_job_exe"}}, {"exists": {"field": "scale_order_num"}}]


# Elasticsearch's index.max_terms_count (65,536 by default) bounds one terms query: more ids go in several.
MAX_TERMS = 65_536
MANY_IDS = 1_000


def executions_clause(cluster_ids: list[str]) -> dict:
    """Lines of these executions. A few (job_exe_id) as exact() does; many (a status filter's executions) as
    terms on scale_job_exe.keyword, a keyword in ours and in legacy dynamic mappings alike, in chunks of MAX_TERMS."""
    if not cluster_ids:
        return {"match_none": {}}
    if len(cluster_ids) <= MANY_IDS:
        return exact("scale_job_exe", cluster_ids)
    chunks = [cluster_ids[i : i + MAX_TERMS] for i in range(0, len(cluster_ids), MAX_TERMS)]
    return {"bool": {"minimum_should_match": 1, "should": [{"terms": {"scale_job_exe.keyword": c}} for c in chunks]}}


def search_query(f: Filters) -> dict:
    if f.has_job_facts and f.fact_cluster_ids is None:  # a programming error: searched before resolving
        raise ValueError("status and error_category filters must be resolved to executions first")
    clauses: list[dict] = list(SCALE_LINE)
    if f.cluster_ids is not None:
        clauses.append(executions_clause(f.cluster_ids))
    if f.has_job_facts and f.fact_cluster_ids is not None:
        clauses.append(executions_clause(f.fact_cluster_ids))
    if f.job_ids:
        clauses.append(exact("scale_job_id", [str(i) for i in f.job_ids]))
    if f.job_type_names:
        clauses.append(exact("scale_job_type", f.job_type_names))
    if f.job_type_versions:
        clauses.append(exact("scale_job_version", f.job_type_versions))
    if f.streams:
        clauses.append(exact("stream", f.streams))
    if f.nodes:
        clauses.append(
            {"bool": {"minimum_should_match": 1, "should": [exact("scale_node", f.nodes), exact("host", f.nodes)]}}
        )
    span = time_range(ns_of(f.started) if f.started else None, ns_of(f.ended) if f.ended else None)
    if span:
        clauses.append(span)
    if f.regex:
        clauses.append(regex_query(f.regex))
    query: dict = {"bool": {"filter": clauses}}
    if f.text:
        query["bool"]["must"] = [text_query(f.text)]
    return query


def search_lines(
    es: Elasticsearch, index: str, f: Filters, offset: int, size: int, newest_first: bool = True
) -> tuple[int, list[dict]]:
    """(total count, hits of this page); each hit is a line plus job_id, exe_num, job_type, highlight."""
    if offset + size > MAX_WINDOW:
        raise SearchRefused(
            f"Only the first {MAX_WINDOW} matches can be paged through by page; walk them all with cursor=* "
            '(parameter "page")'
        )
    with refused_patterns(f.regex):
        resp = strict_search(
            es,
            index,
            query=search_query(f),
            sort=line_sort(descending=newest_first),
            from_=offset,
            size=size,
            source=LINE_SOURCE,
            track_total_hits=True,
            highlight=HIGHLIGHT if f.text else None,
            filter_path=["hits.total", "hits.hits._source", "hits.hits.sort", "hits.hits.highlight"],
        )
    hits = resp.get("hits", {})
    return hits.get("total", {}).get("value", 0), [hit_of(h) for h in hits.get("hits", [])]


def hit_of(hit: dict) -> dict:
    source = hit.get("_source", {})
    out = line_of(hit).fields
    out["job_id"] = as_int(source.get("scale_job_id"))
    out["exe_num"] = as_int(source.get("scale_job_exe_num"))
    out["job_type"] = {"name": source.get("scale_job_type"), "version": source.get("scale_job_version")}
    fragments = hit.get("highlight", {}).get("message")
    out["highlight"] = fragments[0] if fragments else None
    return out
