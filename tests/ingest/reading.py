"""Reading an execution's lines back the way Scale did: term on scale_job_exe.keyword (and stream.keyword),
sorted by @timestamp then scale_order_num; works on template-mapped and on dynamically mapped indices."""
from __future__ import annotations


def scale_query(cluster_id: str, stream: str | None = None) -> dict:
    must = [{"term": {"scale_job_exe.keyword": cluster_id}}]
    if stream:
        must.append({"term": {"stream.keyword": stream}})
    return {"bool": {"must": must}}


def read_lines(es, index: str, cluster_id: str, stream: str | None = None) -> list[dict]:
    """Every matching document's _source (with "_id" and "_index" added), oldest first."""
    es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    # (time, order) is unique per execution in what the tests write, so it pages exactly.
    sort = [{"@timestamp": {"order": "asc", "numeric_type": "date_nanos"}}, {"scale_order_num": "asc"}]
    out, after = [], None
    while True:
        page = es.search(index=index, query=scale_query(cluster_id, stream), sort=sort, size=5000,
                         search_after=after, ignore_unavailable=True, allow_no_indices=True)["hits"]["hits"]
        out += [{**h["_source"], "_id": h["_id"], "_index": h["_index"]} for h in page]
        if len(page) < 5000:
            return out
        after = page[-1]["sort"]
