"""Lines/s into Elasticsearch: our path (capture -> spool -> shipper) next to bare helpers.streaming_bulk.

    ELASTICSEARCH_URL=http://127.0.0.1:9200 python -m ingest.benchmark [--lines 200000] [--bytes 120]

Every run writes the same documents into fresh indices of its own (deleted afterwards); "bare" uses the
helper's defaults (chunk_size 500), "bare-tuned" our chunk sizes. "ours" is timed from
the first raw byte to the last line acknowledged, so it includes splitting, decoding, numbering, building
and serializing documents and the fsync'd spool; "bare" is handed ready-made action dicts.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from ingest.capture import Capture, LocalSequence
from ingest.documents import Line, Origin, bulk_pairs
from ingest.shipper import Shipper
from ingest.template import ensure_template


def make_output(lines: int, width: int) -> bytes:
    pad = "x" * max(0, width - 30)
    return "".join(f"line {i:08d} of the benchmark {pad}\n" for i in range(lines)).encode()


def run_ours(es: Elasticsearch, prefix: str, raw: bytes, spool: Path) -> float:
    shipper = Shipper(es, prefix, spool)
    capture = Capture(shipper, Origin(cluster_id="bench_1x1", node="bench"), LocalSequence())
    start = time.perf_counter()
    for offset in range(0, len(raw), 1 << 16):
        capture.feed("stdout", raw[offset:offset + (1 << 16)])
    capture.close()
    assert shipper.flush(timeout=600)
    elapsed = time.perf_counter() - start
    shipper.close()
    assert shipper.stored == capture.accepted and shipper.error_count == 0, (shipper.stored, shipper.errors)
    return elapsed


def bare_actions(prefix: str, raw: bytes) -> list[dict]:
    now = time.time_ns()
    lines = [Line(m.decode(), "stdout", now, i + 1) for i, m in enumerate(raw.split(b"\n")[:-1])]
    pairs, _ = bulk_pairs(prefix, Origin(cluster_id="bench_1x1", node="bench"), lines)
    actions = []
    for action, source in pairs:
        meta = json.loads(action)["create"]
        actions.append({"_op_type": "create", "_index": meta["_index"], "_id": meta["_id"], **json.loads(source)})
    return actions


def run_bare(es: Elasticsearch, actions: list[dict], **options) -> float:
    start = time.perf_counter()
    # The helper's own 429 retry is switched on: a 512 MB node trips its memory breaker under this load.
    stored = sum(ok for ok, _ in streaming_bulk(es, actions, max_retries=8, initial_backoff=0.5, **options))
    elapsed = time.perf_counter() - start
    assert stored == len(actions), stored
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--bytes", type=int, default=120, help="line length")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    args = parser.parse_args()
    es = Elasticsearch(os.environ.get("ELASTICSEARCH_URL", "http://127.0.0.1:9200"), request_timeout=300,
                       retry_on_status=(429,), max_retries=10)
    raw = make_output(args.lines, args.bytes)
    results: dict[str, list[float]] = {"bare": [], "bare-tuned": [], "ours": []}
    with tempfile.TemporaryDirectory() as spool:
        for round_ in range(args.rounds):
            for name in results:
                prefix = f"bench-{uuid.uuid4().hex[:8]}-{name}"
                ensure_template(es, prefix)  # same mapping for every run
                try:
                    if name == "ours":
                        seconds = run_ours(es, prefix, raw, Path(spool))
                    else:
                        actions = bare_actions(prefix, raw)
                        tuned = {"chunk_size": 5000, "max_chunk_bytes": 8 * 1024 * 1024} if name == "bare-tuned" else {}
                        seconds = run_bare(es, actions, **tuned)
                finally:
                    names = list(es.indices.get(index=f"{prefix}-*"))  # deletes need names, not wildcards
                    if names:
                        es.indices.delete(index=",".join(names))
                    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-logs")
                results[name].append(args.lines / seconds)
                print(f"round {round_ + 1} {name:>10}: {args.lines / seconds:,.0f} lines/s", flush=True)
    print(json.dumps({name: round(statistics.median(rates)) for name, rates in results.items()}))


if __name__ == "__main__":
    main()
