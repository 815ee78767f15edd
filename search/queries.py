"""Query and sort clauses shared by reads and search, valid on our template-mapped indices and on
legacy Scale indices (dynamic mapping: strings are `text` with a `.keyword` sub-field, `@timestamp` is `date`)."""

from __future__ import annotations

from typing import Any

from core.times import format_ns

# Fields a log line is built from (a search's `_source`); legacy documents name the node `host`.
LINE_SOURCE = {
    "includes": [
        "message",
        "@timestamp",
        "scale_order_num",
        "scale_task",
        "scale_job_exe",
        "scale_node",
        "host",
        "stream",
        "scale_job_id",
        "scale_job_exe_num",
        "scale_job_type",
        "scale_job_version",
    ]
}
NANOS_FORMAT = "strict_date_optional_time_nanos"
LONG_MIN = -(2**63)


def exact(field: str, values: list[str]) -> dict[str, Any]:
    """Any of `values` exactly: on `field.keyword` where it exists (legacy), else on `field` (ours).

    A legacy `text` field is never matched directly: its tokens could match a different value. One value is a
    `term` query (a term's postings), cheaper to run than `terms` (a set of terms, read into a bitset first).
    """
    kind = "term" if len(values) == 1 else "terms"
    value = values[0] if len(values) == 1 else values
    return {
        "bool": {
            "minimum_should_match": 1,
            "should": [
                {kind: {f"{field}.keyword": value}},
                {
                    "bool": {
                        "filter": [{kind: {field: value}}],
                        "must_not": [{"exists": {"field": f"{field}.keyword"}}],
                    }
                },
            ],
        }
    }


def time_range(started_ns: int | None = None, ended_ns: int | None = None) -> dict[str, Any] | None:
    """@timestamp within [started, ended], both inclusive (nanoseconds since the epoch)."""
    bounds = {}
    if started_ns is not None:
        bounds["gte"] = format_ns(started_ns)
    if ended_ns is not None:
        bounds["lte"] = format_ns(ended_ns)
    if not bounds:
        return None
    return {"range": {"@timestamp": {**bounds, "format": NANOS_FORMAT}}}


def line_sort(descending: bool = False) -> list[dict[str, Any]]:
    """@timestamp, scale_order_num, then (_index, _seq_no) as a unique tie-breaker.

    numeric_type date_nanos lets legacy `date` and our `date_nanos` indices merge in one order.
    A missing scale_order_num sorts as the smallest value in both directions, so descending is the exact mirror.
    """
    order = "desc" if descending else "asc"
    return [
        {"@timestamp": {"order": order, "numeric_type": "date_nanos", "unmapped_type": "date"}},
        {
            "scale_order_num": {
                "order": order,
                "numeric_type": "long",
                "unmapped_type": "long",
                "missing": "_last" if descending else "_first",
            }
        },
        {"_index": {"order": order}},
        {"_seq_no": {"order": order}},
    ]
