"""`group=execution`: which runs hit a search. One row per execution, ordered by its first matching line.

One search collapses the matches on the execution (`scale_job_exe.keyword`, a keyword in ours and in legacy
dynamic mappings alike): each group's top hit under the line sort is its first matching line, and the groups
come in the order of those lines. A second search counts the matches of the page's executions (a `terms`
aggregation restricted to them, so exact). The number of executions is a `cardinality` aggregation: exact up
to its precision threshold (40,000), approximate above. Offset paging only (collapse can't search_after on time).
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from search.errors import SearchRefused, strict_search
from search.finder import MAX_WINDOW, Filters, hit_of, search_query
from search.patterns import refused_patterns
from search.queries import LINE_SOURCE, line_sort

FIELD = "scale_job_exe.keyword"


def executions_matching(es: Elasticsearch, index: str, f: Filters, offset: int, size: int) -> tuple[int, list[dict]]:
    """(number of executions, rows of the page: {"cluster_id", "matches", "first_match": hit})."""
    if offset + size > MAX_WINDOW:
        raise SearchRefused(f'Only the first {MAX_WINDOW} executions can be paged through (parameter "page")')
    query = search_query(f)
    with refused_patterns(f.regex):
        resp = strict_search(
            es,
            index,
            query=query,
            collapse={"field": FIELD},
            sort=line_sort(),
            from_=offset,
            size=size,
            source=LINE_SOURCE,
            track_total_hits=False,
            aggs={"executions": {"cardinality": {"field": FIELD, "precision_threshold": 40_000}}},
        )
        hits = resp["hits"]["hits"]
        ids = [h["fields"][FIELD][0] for h in hits]
        counts: dict[str, int] = {}
        if ids:
            agg = strict_search(
                es,
                index,
                query={"bool": {"filter": [query, {"terms": {FIELD: ids}}]}},
                size=0,
                aggs={"per": {"terms": {"field": FIELD, "size": len(ids)}}},
            )
            counts = {b["key"]: b["doc_count"] for b in agg["aggregations"]["per"]["buckets"]}
    total = resp["aggregations"]["executions"]["value"]
    rows = [{"cluster_id": cid, "matches": counts.get(cid, 0), "first_match": hit_of(h)} for cid, h in zip(ids, hits)]
    return total, rows
