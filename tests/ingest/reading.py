"""Reading an execution's lines back the way Scale did: term on scale_job_exe.keyword (and stream.keyword),
sorted by @timestamp then scale_order_num; works on template-mapped and on dynamically mapped indices.

A daily index another process has just created (a worker or a shipper shipping its first line of the day) is
visible before its primary shard is active; a search reaching it then fails as a whole with 503
search_phase_execution_exception. So a read first waits until the indices' primaries are active, and is tried
again on that one error (an index may be created between the wait and the search) until a deadline.
"""

from __future__ import annotations

import time

from elasticsearch import ApiError

READ_TIMEOUT = 60  # seconds a read may wait for freshly created indices


def scale_query(cluster_id: str, stream: str | None = None) -> dict:
    must = [{"term": {"scale_job_exe.keyword": cluster_id}}]
    if stream:
        must.append({"term": {"stream.keyword": stream}})
    return {"bool": {"must": must}}


def wait_for_primaries(es, index: str, timeout: float) -> None:
    """Until every index matching `index` has its primaries active (an index pattern matching nothing is ready)."""
    health = es.options(request_timeout=timeout + 10).cluster.health(
        index=index, wait_for_status="yellow", timeout=f"{max(1, int(timeout))}s"
    )
    assert not health["timed_out"], f"the primaries of {index} are not active after {timeout} s: {health}"


def read_lines(es, index: str, cluster_id: str, stream: str | None = None) -> list[dict]:
    """Every matching document's _source (with "_id" and "_index" added), oldest first."""
    deadline = time.monotonic() + READ_TIMEOUT
    while True:
        wait_for_primaries(es, index, deadline - time.monotonic())
        try:
            return _read(es, index, cluster_id, stream)
        except ApiError as exc:
            if exc.meta.status != 503 or exc.error != "search_phase_execution_exception" or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _read(es, index: str, cluster_id: str, stream: str | None) -> list[dict]:
    es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    # A point in time: one snapshot, and its implicit _shard_doc tiebreaker makes every sort value unique, so the
    # pages never skip a document, not even a duplicate of (time, order) at a page boundary.
    sort = [{"@timestamp": {"order": "asc", "numeric_type": "date_nanos"}}, {"scale_order_num": "asc"}]
    pit = es.open_point_in_time(index=index, keep_alive="1m", ignore_unavailable=True)["id"]
    out, after = [], None
    try:
        while True:
            resp = es.search(
                pit={"id": pit, "keep_alive": "1m"},
                query=scale_query(cluster_id, stream),
                sort=sort,
                size=5000,
                search_after=after,
            )
            pit = resp.get("pit_id", pit)
            page = resp["hits"]["hits"]
            out += [{**h["_source"], "_id": h["_id"], "_index": h["_index"]} for h in page]
            if len(page) < 5000:
                return out
            after = page[-1]["sort"]
    finally:
        es.close_point_in_time(id=pit)
