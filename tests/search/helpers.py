"""Writing log documents straight into Elasticsearch for the read tests: ours (through the ingest template,
_id from cluster id and order number) and legacy Scale-shaped ones (dynamic mapping, Fluentd's fields)."""

from __future__ import annotations

import time

from elasticsearch import Elasticsearch, helpers

from core.times import parse_ns

NS = 1_000_000_000
BASE_NS = 1_700_000_000 * NS  # 2023-11-14T22:13:20Z


def iso(ns: int) -> str:
    seconds, fraction = divmod(ns, NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def day(ns: int) -> str:
    return time.strftime("%Y.%m.%d", time.gmtime(ns // NS))


def our_doc(cluster_id: str, ns: int, order: int, message: str, stream: str = "stdout", **extra) -> dict:
    return {
        "@timestamp": iso(ns),
        "scale_order_num": order,
        "stream": stream,
        "message": message,
        "scale_job_exe": cluster_id,
        "scale_task": f"{cluster_id}_main",
        "scale_node": "node-1",
        "host": "node-1",
        **extra,
    }


def legacy_doc(cluster_id: str, ns: int, message: str, stream: str = "stdout", **extra) -> dict:
    """As Scale's Fluentd wrote it: order number = the nanosecond fraction, ids as strings, node as host."""
    return {
        "@timestamp": iso(ns).replace("Z", "+00:00"),
        "scale_order_num": ns % NS,
        "stream": stream,
        "message": message,
        "scale_job_exe": cluster_id,
        "host": "legacy-node",
        "scale_job_type": "legacy-type",
        "scale_job_version": "1.0.0",
        "scale_job_id": "77",
        "scale_job_exe_num": "1",
        **extra,
    }


def index_ours(es: Elasticsearch, prefix: str, docs: list[dict], refresh: bool = True) -> None:
    from ingest.template import ensure_template

    ensure_template(es, prefix)
    actions = (
        {
            "_op_type": "create",
            "_index": f"{prefix}-{day(parse_ns(d['@timestamp']))}",
            "_id": f"{d['scale_job_exe']}#{d['scale_order_num']}",
            "_source": d,
        }
        for d in docs
    )
    _bulk(es, actions, refresh)


def index_legacy(es: Elasticsearch, prefix: str, docs: list[dict], refresh: bool = True) -> None:
    actions = ({"_index": f"{prefix}-legacy-{day(parse_ns(d['@timestamp']))}", "_source": d} for d in docs)
    _bulk(es, actions, refresh)


def _bulk(es: Elasticsearch, actions, refresh: bool) -> None:
    _ok, errors = helpers.bulk(
        es.options(request_timeout=120), actions, chunk_size=5000, refresh=refresh, raise_on_error=True
    )
    assert not errors


SOURCE_FIELDS = {"message", "@timestamp", "scale_order_num", "scale_task", "scale_job_exe", "scale_node", "stream"}


def hits_of(body: dict) -> list[dict]:
    """The hits of a log JSON body (Scale's: an Elasticsearch search response), after checking its frame:
    hits.total counts them, no score, every hit with its document's index and id, its _source and sort values."""
    assert set(body) == {"took", "timed_out", "hits"} and body["timed_out"] is False and body["took"] >= 0
    assert set(body["hits"]) == {"total", "max_score", "hits"} and body["hits"]["max_score"] is None
    hits = body["hits"]["hits"]
    assert body["hits"]["total"] == len(hits)
    for hit in hits:
        assert set(hit) == {"_index", "_id", "_score", "_source", "sort"} and hit["_score"] is None
        assert isinstance(hit["_index"], str) and isinstance(hit["_id"], str) and len(hit["sort"]) == 4
        assert set(hit["_source"]) == SOURCE_FIELDS
    return hits


def lines_of(body: dict) -> list[dict]:
    """The lines (each hit's _source) of a log JSON body, its frame checked by hits_of."""
    return [hit["_source"] for hit in hits_of(body)]


def messages(body: dict) -> list[str]:
    return [line["message"] for line in lines_of(body)]
