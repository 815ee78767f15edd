"""Elasticsearch's profile of the read path's searches (bench.readpath profile), trimmed to what decides their cost.

For each search (tail of 100, first page of 1,001, a search_after page of 2,000 at 90 % depth on a point-in-time,
as search.reads asks them), per shard: the query tree (type, time, how often its iterator moved: next_doc and
advance counts, i.e. how many documents were visited) and the collector tree. Besides the searches as the checkout
asks them (`ours`), variants that each change one suspect, so the profile says which one matters.
"""

from __future__ import annotations

import json
from pathlib import Path

from elasticsearch import Elasticsearch

from bench import corpus


def _sort(order: str, cast: bool = True, tiebreak: bool = True) -> list[dict]:
    ts: dict = {"order": order, "unmapped_type": "date"}
    if cast:
        ts["numeric_type"] = "date_nanos"
    sort: list[dict] = [
        {"@timestamp": ts},
        {
            "scale_order_num": {
                "order": order,
                "numeric_type": "long",
                "unmapped_type": "long",
                "missing": "_last" if order == "desc" else "_first",
            }
        },
    ]
    if tiebreak:
        sort += [{"_index": {"order": order}}, {"_seq_no": {"order": order}}]
    return sort


def _variant(**kwargs):
    return lambda descending=False: _sort("desc" if descending else "asc", **kwargs)


def _trim_query(node: dict) -> dict:
    b = node.get("breakdown", {})
    out = {
        "type": node["type"],
        "description": node["description"][:160],
        "time_ms": round(node["time_in_nanos"] / 1e6, 3),
        "next_doc_count": b.get("next_doc_count"),
        "advance_count": b.get("advance_count"),
        "score_count": b.get("score_count"),
    }
    if node.get("children"):
        out["children"] = [_trim_query(c) for c in node["children"]]
    return out


def _trim_collector(node: dict) -> dict:
    out = {"name": node["name"], "reason": node["reason"], "time_ms": round(node["time_in_nanos"] / 1e6, 3)}
    if node.get("children"):
        out["children"] = [_trim_collector(c) for c in node["children"]]
    return out


def trimmed(resp: dict) -> dict:
    shards = []
    for shard in resp["profile"]["shards"]:
        index = shard["id"].split("][")[1] if "][" in shard["id"] else shard["id"]
        for s in shard["searches"]:
            queries = [_trim_query(q) for q in s["query"]]
            shards.append(
                {
                    "index": index,
                    "query_time_ms": round(sum(q["time_in_nanos"] for q in s["query"]) / 1e6, 3),
                    "rewrite_time_ms": round(s["rewrite_time"] / 1e6, 3),
                    "collector": [_trim_collector(c) for c in s["collector"]],
                    "query": queries,
                }
            )
    shards.sort(key=lambda s: -s["query_time_ms"])
    # Documents the top-level query's iterator moved over, in all shards: what the search had to visit.
    visited = sum((q["next_doc_count"] or 0) + (q["advance_count"] or 0) for s in shards for q in s["query"][:1])
    return {"took_ms": resp["took"], "hits": len(resp["hits"]["hits"]), "visited": visited, "shards": shards}


def _windowed(es: Elasticsearch, index: str, cid: str, query: dict, after: list) -> dict:
    """Every search search.windows makes for the tail, the first page and a page at 90 % depth, profiled."""
    from search.windows import WINDOWING, backward, forward

    def recorder(calls: list):
        def search(q: dict, sort: list, size: int, search_after) -> list[dict]:
            resp = es.search(
                index=index,
                ignore_unavailable=True,
                query=q,
                sort=sort,
                size=size,
                search_after=list(search_after) if search_after else None,
                profile=True,
                track_total_hits=False,
                source=False,
            ).body
            kind = (
                "bound"
                if "scale_order_num" in json.dumps(q)
                else ("window" if "@timestamp" in json.dumps(q) else "plain")
            )
            t = trimmed(resp)
            calls.append(
                {"call": f"{kind} size {size}", "took_ms": resp["took"], "visited": t["visited"], "profile": t}
            )
            return resp["hits"]["hits"]

        return search

    out: dict = {}
    for what, run in {
        "tail_100": lambda s: backward(s, lambda: es.count(index=index, query=query)["count"], query, 100, WINDOWING),
        "first_1001": lambda s: forward(s, query, None, 1001, WINDOWING),
        "deep_2000": lambda s: forward(s, query, tuple(after), 2000, WINDOWING),
    }.items():
        calls: list = []
        run(recorder(calls))
        out[what] = calls
    return out


def _depth_sweep(es: Elasticsearch, index: str, cid: str, query: dict, size: int, windowed: bool) -> dict:
    """took (ms, min of 7, no profiling) of a 2,000-line page after the line at each depth: one search_after
    search as before; with `windowed`, the sum over the searches search.windows makes."""
    from search.queries import line_sort
    from search.windows import WINDOWING, forward

    out = {}
    for depth in (0.01, 0.25, 0.5, 0.75, 0.9, 0.99):
        after = tuple(_deep_key(es, index, cid, query, max(1, int(size * depth))))
        runs = []
        for _ in range(7):
            took = 0

            def search(q, sort, n, search_after):
                nonlocal took
                resp = es.search(
                    index=index,
                    ignore_unavailable=True,
                    query=q,
                    sort=sort,
                    size=n,
                    search_after=list(search_after) if search_after else None,
                    track_total_hits=False,
                    source=False,
                )
                took += resp["took"]
                return resp["hits"]["hits"]

            if windowed:
                forward(search, query, after, 2000, WINDOWING)
            else:
                search(query, line_sort(), 2000, after)
            runs.append(took)
        out[str(depth)] = min(runs)
    return out


def _deep_key(es: Elasticsearch, indices: str, cid: str, query: dict, order_num: int) -> list:
    """The sort key of the line `order_num` of the execution (the cursor a deep page resumes after)."""
    resp = es.search(
        index=indices,
        query={"bool": {"filter": [query, {"term": {"scale_order_num": order_num}}]}},
        sort=_sort("asc"),
        size=1,
        ignore_unavailable=True,
    )
    return resp["hits"]["hits"][0]["sort"][:4]


def profile_all(
    es: Elasticsearch, c: corpus.Corpus, indices: tuple[str, ...], label: str, out_dir: Path, windowed: bool
) -> None:
    from search.queries import exact, line_sort

    index = ",".join(indices)
    out_dir.mkdir(parents=True, exist_ok=True)
    large = c.read_sizes[-1]
    for size in c.read_sizes:
        cid = c.cluster_id(size)
        ours_query = {"bool": {"filter": [exact("scale_job_exe", [cid])]}}
        plain_query = {"bool": {"filter": [{"term": {"scale_job_exe": cid}}]}}
        after = _deep_key(es, index, cid, ours_query, int(size * 0.9))
        variants = {
            "ours": (ours_query, line_sort, True),
            "no_cast": (ours_query, _variant(cast=False), True),
            "plain_term": (plain_query, line_sort, True),
            "no_tiebreak": (ours_query, _variant(tiebreak=False), True),
        }
        report: dict = {"label": label, "execution": cid, "lines": size, "indices": index, "searches": {}}
        for name, (query, sort_of, _) in variants.items():
            after_here = after if name != "no_tiebreak" else after[:2]
            searches = {
                "tail_100": dict(query=query, sort=sort_of(descending=True), size=100),
                "first_1001": dict(query=query, sort=sort_of(), size=1001),
                "deep_2000": dict(query=query, sort=sort_of(), size=2000, search_after=after_here, pit=True),
            }
            for what, body in searches.items():
                pit = body.pop("pit", False)
                took = []
                resp = None
                for _ in range(5):  # the last one's profile is kept; took of all five
                    kwargs = dict(body, profile=True, track_total_hits=False, source=False)
                    if pit:
                        pit_id = es.open_point_in_time(index=index, keep_alive="1m", ignore_unavailable=True)["id"]
                        try:
                            resp = es.search(pit={"id": pit_id, "keep_alive": "1m"}, **kwargs).body
                        finally:
                            es.close_point_in_time(id=pit_id)
                    else:
                        resp = es.search(index=index, ignore_unavailable=True, **kwargs).body
                    took.append(resp["took"])
                assert resp is not None
                t = trimmed(resp)
                t["took_ms_runs"] = took
                report["searches"][f"{name}/{what}"] = t
        if windowed:
            report["windowed"] = _windowed(es, index, cid, ours_query, after)
        report["depth_sweep"] = {"one_search_after": _depth_sweep(es, index, cid, ours_query, size, False)}
        if windowed:
            report["depth_sweep"]["windowed"] = _depth_sweep(es, index, cid, ours_query, size, True)
        name = f"{label}-{'large' if size == large else 'small'}.json"
        (out_dir / name).write_text(json.dumps(report, indent=1) + "\n")
        print(f"{label} {size:,} lines ({cid}):")
        for key, t in report["searches"].items():
            top = t["shards"][0]
            print(
                f"  {key:26s} took {sorted(t['took_ms_runs'])[2]:4d} ms; top shard {top['index']}: "
                f"query {top['query_time_ms']:8.2f} ms, visited {t['visited']:>9,}, "
                f"collector {top['collector'][0]['name']}"
            )
        for key, calls in report.get("windowed", {}).items():
            print(
                f"  windowed/{key:17s} "
                + "; ".join(f"{c['call']}: took {c['took_ms']} visited {c['visited']:,}" for c in calls)
            )
        print("  depth sweep (took ms, min of 7):", json.dumps(report["depth_sweep"]))
