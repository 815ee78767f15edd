"""Measure 1: lines/s into Elasticsearch, until refreshed and counted.

- ours: each execution's raw output goes through ingest.capture.Capture (split, decode, number, build and
  serialize documents) into one ingest.shipper.Shipper (fsync'd spool, then streaming_bulk from its thread),
  timed from the first raw byte to the last line counted.
- raw: the official client's bare helpers.streaming_bulk with the same documents (as action dicts) and the
  shipper's settings (chunk_size 5000, max_chunk_bytes 8 MiB).
- http: the same lines as NDJSON bodies POSTed to /v6/job-executions/{id}/logs/ of the API under gunicorn.

(This folds in the ingest engineer's ingest/benchmark.py.)
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from bench import data
from bench.harness import Client, log
from bench.stats import median, paired_ratio, ratio

CHUNK_SIZE = 5000
MAX_CHUNK_BYTES = 8 * 1024 * 1024
FEED_BYTES = 1 << 16


def origin(exe: int):
    from ingest.documents import Origin

    return Origin(cluster_id=f"scale_job_{exe}x1", task=f"scale_job_{exe}x1_main", node="node-01", host="node-01",
                  job_type="type-01", job_type_version="1.0.0", job_id=str(exe), exe_num="1")


def outputs(lines: data.Lines, executions: int, per_exe: int) -> list[bytes]:
    return [lines.raw_output(exe * per_exe, per_exe) for exe in range(executions)]


def bare_actions(prefix: str, raw_outputs: list[bytes]) -> list[dict]:
    """The very documents our path writes (same index, _id and source), as the client's action dicts."""
    from ingest.documents import CapturedLine, bulk_pairs

    actions = []
    for exe, raw in enumerate(raw_outputs):
        messages = raw.decode().split("\n")[:-1]
        lines = [CapturedLine(m, "stdout", data.BASE_NS, i + 1) for i, m in enumerate(messages)]
        pairs, _ = bulk_pairs(prefix, origin(exe), lines)
        for action, source in pairs:
            meta = json.loads(action)["create"]
            actions.append({"_op_type": "create", "_index": meta["_index"], "_id": meta["_id"],
                            "_source": json.loads(source)})
    return actions


def refreshed_count(es: Elasticsearch, prefix: str) -> int:
    es.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    return es.count(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)["count"]


def drop(es: Elasticsearch, prefix: str) -> None:
    names = list(es.indices.get(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True))
    if names:  # deletes need names, not wildcards
        es.indices.delete(index=",".join(names))


def run_ours(es: Elasticsearch, prefix: str, raw_outputs: list[bytes], spool: Path) -> float:
    from ingest.capture import Capture, LocalSequence
    from ingest.shipper import Shipper

    shipper = Shipper(es, prefix, spool)
    expected = 0
    start = time.perf_counter()
    for exe, raw in enumerate(raw_outputs):
        capture = Capture(shipper, origin(exe), LocalSequence(), clock_ns=lambda: data.BASE_NS)
        for offset in range(0, len(raw), FEED_BYTES):
            capture.feed("stdout", raw[offset:offset + FEED_BYTES])
        capture.close()
        expected += capture.accepted
    if not shipper.flush(timeout=1800):
        raise RuntimeError("the shipper did not finish")
    counted = refreshed_count(es, prefix)
    elapsed = time.perf_counter() - start
    shipper.close()
    if counted != expected or shipper.error_count:
        raise RuntimeError(f"ours stored {counted} of {expected} lines, errors {list(shipper.errors)[:3]}")
    return elapsed


def run_bare(es: Elasticsearch, prefix: str, actions: list[dict]) -> float:
    start = time.perf_counter()
    stored = sum(ok for ok, _ in streaming_bulk(es, actions, chunk_size=CHUNK_SIZE, max_chunk_bytes=MAX_CHUNK_BYTES))
    counted = refreshed_count(es, prefix)
    elapsed = time.perf_counter() - start
    if counted != len(actions) or stored != len(actions):
        raise RuntimeError(f"bare stored {counted} of {len(actions)}")
    return elapsed


def http_bodies(raw_outputs: list[bytes], body_lines: int) -> list[tuple[int, bytes, int]]:
    """(execution index, NDJSON body, lines) for every body to post."""
    bodies = []
    for exe, raw in enumerate(raw_outputs):
        messages = raw.decode().split("\n")[:-1]
        for start in range(0, len(messages), body_lines):
            part = messages[start:start + body_lines]
            body = "".join(json.dumps({"message": m, "stream": "stdout"}) + "\n" for m in part).encode()
            bodies.append((exe, body, len(part)))
    return bodies


def run_http(es: Elasticsearch, api_url: str, prefix: str, exe_ids: list[int],
             bodies: list[tuple[int, bytes, int]], clients: int, token: str) -> float:
    expected = sum(n for _, _, n in bodies)
    queue = list(reversed(bodies))
    lock = threading.Lock()
    failures: list[str] = []

    def post() -> None:
        client = Client(api_url, timeout=300)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        while True:
            with lock:
                if not queue or failures:
                    break
                exe, body, n = queue.pop()
            status, answer = client.request("POST", f"/v6/job-executions/{exe_ids[exe]}/logs/", body=body,
                                            headers=headers)
            if status != 202 or json.loads(answer)["accepted"] != n:
                failures.append(f"{status} {answer[:300]!r}")
        client.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=post) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError("HTTP ingest failed: " + failures[0])
    # Every line is spooled at least; wait until all of them are searchable.
    deadline = time.monotonic() + 600
    while (counted := refreshed_count(es, prefix)) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"HTTP ingest: {counted} of {expected} lines stored")
        time.sleep(0.05)
    return time.perf_counter() - start


def measure(es: Elasticsearch, run_id: str, executions: int, per_exe: int, repeat: int, work: Path,
            http: dict | None, budget_s: float = float("inf")) -> dict:
    """http: {"api_url", "prefix", "exe_ids", "clients", "token"} of an API server writing under prefix."""
    from ingest.template import ensure_template

    lines = data.Lines()
    raw_outputs = outputs(lines, executions, per_exe)
    total = executions * per_exe
    mean_bytes = round(sum(len(r) for r in raw_outputs) / total - 1, 1)
    log(f"ingest: {total:,} lines over {executions} executions, mean {mean_bytes} bytes per message")
    rates: dict[str, list[float]] = {"ours": [], "raw": [], "http": []}
    bodies = http_bodies(raw_outputs, 5000) if http else []
    began = time.monotonic()
    for round_ in range(repeat):
        if round_ and time.monotonic() - began > budget_s:
            break  # every round has ours, raw and http: fewer rounds, never an unpaired figure
        order = ["ours", "raw", "http"] if round_ % 2 == 0 else ["raw", "ours", "http"]
        for name in order:
            if name == "http" and not http:
                continue
            prefix = http["prefix"] if name == "http" else f"{run_id}-ing-{uuid.uuid4().hex[:6]}"
            ensure_template(es, prefix)  # the same mapping for every run
            try:
                if name == "ours":
                    spool = work / f"spool-{uuid.uuid4().hex[:6]}"
                    seconds = run_ours(es, prefix, raw_outputs, spool)
                elif name == "raw":
                    actions = bare_actions(prefix, raw_outputs)
                    seconds = run_bare(es, prefix, actions)
                    del actions
                else:
                    seconds = run_http(es, http["api_url"], prefix, http["exe_ids"], bodies, http["clients"],
                                       http["token"])
            finally:
                drop(es, prefix)
                if name != "http":
                    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-logs")
            rates[name].append(total / seconds)
            log(f"ingest round {round_ + 1} {name}: {total / seconds:,.0f} lines/s")
    ours, raw = median(rates["ours"]), median(rates["raw"])
    out = {
        "lines": total, "executions": executions, "mean_message_bytes": mean_bytes, "repeats": len(rates["ours"]),
        "ours_lines_per_s": round(ours), "raw_lines_per_s": round(raw),
        "ratio": paired_ratio(rates["ours"], rates["raw"]), "ratio_of_medians": ratio(ours, raw),
        "samples": {k: [round(v) for v in vs] for k, vs in rates.items() if vs},
    }
    if http:
        h = median(rates["http"])
        out["http"] = {"ours_lines_per_s": round(h), "raw_lines_per_s": round(raw),
                       "ratio": paired_ratio(rates["http"], rates["raw"]), "ratio_of_medians": ratio(h, raw),
                       "clients": http["clients"], "body_lines": 5000}
    return out
