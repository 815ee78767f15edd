"""Measure 1: lines/s into Elasticsearch, until refreshed and counted.

- ours: each execution's raw output goes through ingest.capture.Capture (split, decode, number, build and
  serialize documents) into one ingest.shipper.Shipper (fsync'd spool, then streaming_bulk from its thread),
  timed from the first raw byte to the last line counted.
- raw: the official client's bare helpers.streaming_bulk of the very bytes our path sends (the same
  (action, source) pairs from ingest.documents.bulk_pairs, serialized before the timer starts), passed through
  as they are, with yield_ok=False and the shipper's chunk settings (chunk_size 5000, max_chunk_bytes 8 MiB):
  the same requests, and nothing else. As many streams side by side as one Shipper sends (STREAMS).
- http: the same lines as NDJSON bodies POSTed to /v6/job-executions/{id}/logs/ of the API under gunicorn with
  2 workers, each shipping from its own Shipper: up to 2 * STREAMS bulk streams at once. Its raw is
  `raw_2_streams` (two Shippers' worth): the same pairs split by execution over 2 * STREAMS streaming_bulks in
  parallel threads.

Every run's result is checked, ours against raw: the documents stored (count), the sum of their order numbers
and the number of executions must be the same for ours, raw and http, and equal what was sent.

(This folds in the ingest engineer's ingest/benchmark.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from bench import data
from bench.harness import Client, log
from bench.stats import median, paired_ratio, ratio
from ingest.shipper import BULK_ANSWER, STREAMS

CHUNK_SIZE = 5000
MAX_CHUNK_BYTES = 8 * 1024 * 1024
FEED_BYTES = 1 << 16


def origin(exe: int):
    from ingest.documents import Origin

    return Origin(
        cluster_id=f"scale_job_{exe}x1",
        task=f"scale_job_{exe}x1_main",
        node="node-01",
        host="node-01",
        job_type="type-01",
        job_type_version="1.0.0",
        job_id=str(exe),
        exe_num="1",
    )


def outputs(lines: data.Lines, executions: int, per_exe: int) -> list[bytes]:
    return [lines.raw_output(exe * per_exe, per_exe) for exe in range(executions)]


def bare_pairs(prefix: str, raw_outputs: list[bytes]) -> list[list[tuple[bytes, bytes]]]:
    """Per execution, the very (action, source) bytes our path sends (same index, _id and source)."""
    from ingest.documents import CapturedLine, bulk_pairs

    out = []
    for exe, raw in enumerate(raw_outputs):
        messages = raw.decode().split("\n")[:-1]
        lines = [CapturedLine(m, "stdout", data.BASE_NS, i + 1) for i, m in enumerate(messages)]
        pairs, _ = bulk_pairs(prefix, origin(exe), lines)
        out.append(pairs)
    return out


def refreshed_count(es: Elasticsearch, prefix: str) -> int:
    es.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    return es.count(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)["count"]


def stored(es: Elasticsearch, prefix: str) -> dict:
    """What a run left in Elasticsearch, to compare ours with raw: documents, the sum of their order numbers
    (each execution's lines numbered 1..n once each), and how many executions."""
    es.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    resp = es.search(
        index=f"{prefix}-*",
        size=0,
        track_total_hits=True,
        ignore_unavailable=True,
        allow_no_indices=True,
        aggs={
            "order_sum": {"sum": {"field": "scale_order_num"}},
            "executions": {"cardinality": {"field": "scale_job_exe"}},
        },
    )
    return {
        "docs": resp["hits"]["total"]["value"],
        "order_sum": int(resp["aggregations"]["order_sum"]["value"]),
        "executions": resp["aggregations"]["executions"]["value"],
    }


def drop(es: Elasticsearch, prefix: str) -> None:
    names = list(es.indices.get(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True))
    if names:  # deletes need names, not wildcards
        es.indices.delete(index=",".join(names))


@contextmanager
def scratch(es: Elasticsearch, prefix: str, keep_template: bool = False) -> Iterator[str]:
    """Indices of a run under `prefix`, with the service's template (the same mapping for every run), dropped
    afterwards with the template (kept for a prefix the API writes under)."""
    from ingest.template import ensure_template

    ensure_template(es, prefix)
    try:
        yield prefix
    finally:
        drop(es, prefix)
        if not keep_template:
            es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-logs")


def run_ours(es: Elasticsearch, prefix: str, raw_outputs: list[bytes], spool: Path) -> tuple[float, float]:
    """(seconds from the first captured byte to every line stored and counted, the CPU seconds this process spent
    on it: capture and shipper threads, nothing else runs in it meanwhile)."""
    from ingest.capture import Capture, LocalSequence
    from ingest.shipper import Shipper

    shipper = Shipper(es, prefix, spool)
    expected = 0
    cpu_began = time.process_time()
    start = time.perf_counter()
    for exe, raw in enumerate(raw_outputs):
        capture = Capture(shipper, origin(exe), LocalSequence(), clock_ns=lambda: data.BASE_NS)
        for offset in range(0, len(raw), FEED_BYTES):
            capture.feed("stdout", raw[offset : offset + FEED_BYTES])
        capture.close()
        expected += capture.accepted
    if not shipper.flush(timeout=1800):
        raise RuntimeError("the shipper did not finish")
    counted = refreshed_count(es, prefix)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_began
    shipper.close()
    if counted != expected or shipper.error_count:
        raise RuntimeError(f"ours stored {counted} of {expected} lines, errors {list(shipper.errors)[:3]}")
    return elapsed, cpu


def _as_serialized(pair: Any) -> Any:
    return pair


def run_bare(es: Elasticsearch, prefix: str, pairs_per_exe: list[list[tuple[bytes, bytes]]], streams: int) -> float:
    """streams parallel streaming_bulks, each over its share of the executions, of pre-serialized pairs."""
    shares = [[pair for pairs in pairs_per_exe[k::streams] for pair in pairs] for k in range(streams)]
    failed: list = []

    def send(share: list[tuple[bytes, bytes]]) -> None:
        # Pairs serialized already, as the shipper sends them (the client's types expect actions to expand).
        actions: list[Any] = list(share)
        for _ok, item in streaming_bulk(
            es,
            actions,
            expand_action_callback=_as_serialized,
            chunk_size=CHUNK_SIZE,
            max_chunk_bytes=MAX_CHUNK_BYTES,
            raise_on_error=False,
            yield_ok=False,
            filter_path=BULK_ANSWER,
        ):
            failed.append(item)

    start = time.perf_counter()
    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counted = refreshed_count(es, prefix)
    elapsed = time.perf_counter() - start
    expected = sum(len(share) for share in shares)
    if counted != expected or failed:
        raise RuntimeError(f"bare ({streams} streams) stored {counted} of {expected}, errors {failed[:3]}")
    return elapsed


def run_ceiling(
    es: Elasticsearch, es_url: str, prefix: str, bodies: list[bytes], connections: int, lines: int
) -> float:
    """The node's ingest ceiling: pre-serialized _bulk bodies over `connections` parallel connections."""
    from bench import ceilings

    start = time.perf_counter()
    rejected = ceilings.ingest(es_url, bodies, connections)
    counted = refreshed_count(es, prefix)
    elapsed = time.perf_counter() - start
    if rejected:
        log(f"ingest ceiling, {connections} connections: {rejected} bulk requests re-sent after a 429")
    if counted != lines:
        raise RuntimeError(f"ceiling ({connections} connections) stored {counted} of {lines}")
    return elapsed


def http_bodies(raw_outputs: list[bytes], body_lines: int) -> list[tuple[int, bytes, int]]:
    """(execution index, NDJSON body, lines) for every body to post."""
    bodies = []
    for exe, raw in enumerate(raw_outputs):
        messages = raw.decode().split("\n")[:-1]
        for start in range(0, len(messages), body_lines):
            part = messages[start : start + body_lines]
            body = "".join(json.dumps({"message": m, "stream": "stdout"}) + "\n" for m in part).encode()
            bodies.append((exe, body, len(part)))
    return bodies


def run_http(
    es: Elasticsearch,
    api_url: str,
    prefix: str,
    exe_ids: list[int],
    bodies: list[tuple[int, bytes, int]],
    clients: int,
    token: str,
) -> float:
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
            try:  # a POST is never sent twice (it would store its lines twice): a failure ends the run
                status, answer = client.request(
                    "POST", f"/v6/job-executions/{exe_ids[exe]}/logs/", body=body, headers=headers
                )
            except Exception as exc:
                failures.append(f"{exc!r}")
                break
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
    elapsed = time.perf_counter() - start
    if counted != expected:  # more than sent: a body stored twice
        raise RuntimeError(f"HTTP ingest: {counted} lines stored, {expected} sent")
    return elapsed


def node_pid(es: Elasticsearch) -> int | None:
    """The pid of the node when it is one Java process on this machine, else None."""
    nodes = list(es.nodes.info(node_id="_local", metric="process")["nodes"].values())
    pid = nodes[0]["process"]["id"] if len(nodes) == 1 else None
    cmdline = Path(f"/proc/{pid}/cmdline")
    return pid if pid and cmdline.exists() and b"java" in cmdline.read_bytes() else None


def pin(pid: int, cores: str) -> None:
    """Every thread of pid onto `cores` (taskset's list syntax)."""
    subprocess.run(["taskset", "-a", "-p", "-c", cores, str(pid)], check=True, stdout=subprocess.DEVNULL)


def pinned_rounds(es: Elasticsearch, repeat: int, run: dict[str, Callable[[], float]]) -> dict:
    """Issue 20: the shipper against the ceiling (run["ours"], run["ceiling"]: lines/s) when the node and the
    sender each have a core of their own: the node's threads on core 0, this process's (the shipper and capture,
    or the ceiling's POSTing threads) on core 1, alternating `repeat` times; the affinities are given back
    afterwards. Skipped with a reason when the node is not a local process or the machine has fewer than two
    cores."""
    cores = os.cpu_count() or 1
    pid = node_pid(es)
    if cores < 2 or pid is None:
        return {"skipped": "needs two cores and a node running on this machine"}
    everything = f"0-{cores - 1}"
    rates: dict[str, list[float]] = {"ours": [], "ceiling": []}
    try:
        pin(pid, "0")
        pin(os.getpid(), "1")
        for round_ in range(repeat):
            for name in ("ours", "ceiling") if round_ % 2 == 0 else ("ceiling", "ours"):
                rates[name].append(run[name]())
                log(f"ingest pinned round {round_ + 1} {name}: {rates[name][-1]:,.0f} lines/s")
    finally:
        pin(pid, everything)
        pin(os.getpid(), everything)
    return {
        "node_cores": "0",
        "sender_cores": "1",
        "ours_lines_per_s": round(median(rates["ours"])),
        "ceiling_lines_per_s": round(median(rates["ceiling"])),
        "ceiling_ratio": paired_ratio(rates["ours"], rates["ceiling"]),
        "samples": {k: [round(v) for v in vs] for k, vs in rates.items()},
    }


def measure(
    es: Elasticsearch,
    run_id: str,
    executions: int,
    per_exe: int,
    repeat: int,
    work: Path,
    http: dict[str, Any],
    budget_s: float = float("inf"),
    es_url: str = "",
    ceiling_connections: tuple[int, ...] = (1, 2, 4, 8),
) -> dict:
    """http: {"api_url", "prefix", "exe_ids", "clients", "token"} of an API server writing under prefix.

    The ceiling is swept over `ceiling_connections` first (one run each); every round then runs it at the count
    that was fastest, beside ours, raw and http."""
    lines = data.Lines()
    raw_outputs = outputs(lines, executions, per_exe)
    total = executions * per_exe
    mean_bytes = round(sum(len(r) for r in raw_outputs) / total - 1, 1)
    log(f"ingest: {total:,} lines over {executions} executions, mean {mean_bytes} bytes per message")
    rates: dict[str, list[float]] = {"ours": [], "raw": [], "raw_2_streams": [], "http": []}
    bodies = http_bodies(raw_outputs, 5000) if http else []
    expected = {"docs": total, "order_sum": executions * per_exe * (per_exe + 1) // 2, "executions": executions}
    rates["ceiling"] = []
    checks: dict[str, list[dict]] = {name: [] for name in rates}
    wanted_per_run: dict[str, list[dict]] = {name: [] for name in rates}  # what each run had to store
    sweep: dict[int, float] = {}

    def ceiling_run(connections: int) -> float:
        from bench import ceilings

        with scratch(es, f"{run_id}-ceil-{uuid.uuid4().hex[:6]}") as prefix:
            pairs = [pair for per_exe in bare_pairs(prefix, raw_outputs) for pair in per_exe]
            bodies = ceilings.bulk_bodies(pairs)  # serialized before the timer
            del pairs
            seconds = run_ceiling(es, es_url, prefix, bodies, connections, total)
            found = stored(es, prefix)
            checks["ceiling"].append(found)
            wanted_per_run["ceiling"].append(expected)
            if found != expected:
                raise RuntimeError(f"ingest ceiling stored {found}, expected {expected}")
        return total / seconds

    for connections in ceiling_connections:
        sweep[connections] = ceiling_run(connections)
        log(f"ingest ceiling, {connections} connections: {sweep[connections]:,.0f} lines/s")
    best = max(sweep, key=lambda c: sweep[c])
    ours_cpu: dict[str, list[float]] = {"shared": [], "pinned": []}  # CPU seconds of each run of ours
    began = time.monotonic()
    for round_ in range(repeat):
        if round_ and time.monotonic() - began > budget_s:
            break  # every round has ours, raw and http: fewer rounds, never an unpaired figure
        order = (
            ["ours", "ceiling", "raw", "http", "raw_2_streams"]
            if round_ % 2 == 0
            else ["raw", "ceiling", "ours", "raw_2_streams", "http"]
        )
        for name in order:
            if name == "ceiling":
                rates[name].append(ceiling_run(best))
                log(f"ingest round {round_ + 1} ceiling ({best} connections): {rates[name][-1]:,.0f} lines/s")
                continue
            if name in ("http", "raw_2_streams") and not http:
                continue
            prefix = http["prefix"] if name == "http" else f"{run_id}-ing-{uuid.uuid4().hex[:6]}"
            with scratch(es, prefix, keep_template=name == "http"):
                if name == "ours":
                    seconds, cpu = run_ours(es, prefix, raw_outputs, work / f"spool-{uuid.uuid4().hex[:6]}")
                    ours_cpu["shared"].append(cpu)
                elif name.startswith("raw"):
                    pairs = bare_pairs(prefix, raw_outputs)  # serialized before the timer, as ours is not
                    seconds = run_bare(es, prefix, pairs, STREAMS * (2 if name == "raw_2_streams" else 1))
                    del pairs
                else:
                    seconds = run_http(
                        es, http["api_url"], prefix, http["exe_ids"], bodies, http["clients"], http["token"]
                    )
                # Ours against raw: the same documents stored (count, order numbers, executions). The API numbers
                # each execution's lines on from what it already holds, so the k-th HTTP round of the same
                # executions stores k * per_exe + 1 .. (k + 1) * per_exe.
                found = stored(es, prefix)
                earlier = len(checks[name]) * per_exe if name == "http" else 0
                wanted = {**expected, "order_sum": expected["order_sum"] + executions * per_exe * earlier}
                checks[name].append(found)
                wanted_per_run[name].append(wanted)
                if found != wanted:
                    raise RuntimeError(f"ingest {name} stored {found}, expected {wanted}")
            rates[name].append(total / seconds)
            log(f"ingest round {round_ + 1} {name}: {total / seconds:,.0f} lines/s")

    def pinned_ours() -> float:
        with scratch(es, f"{run_id}-pin-{uuid.uuid4().hex[:6]}") as prefix:
            seconds, cpu = run_ours(es, prefix, raw_outputs, work / f"spool-{uuid.uuid4().hex[:6]}")
            found = stored(es, prefix)
            if found != expected:
                raise RuntimeError(f"ingest pinned ours stored {found}, expected {expected}")
        ours_cpu["pinned"].append(cpu)
        return total / seconds

    def cpu_us_per_line(runs: list[float]) -> float:
        return round(median(runs) / total * 1e6, 2)

    pinned = pinned_rounds(es, len(rates["ours"]), {"ours": pinned_ours, "ceiling": lambda: ceiling_run(best)})
    if ours_cpu["pinned"]:
        pinned["shipper_cpu_us_per_line"] = cpu_us_per_line(ours_cpu["pinned"])
    ours, raw = median(rates["ours"]), median(rates["raw"])
    out = {
        "lines": total,
        "executions": executions,
        "mean_message_bytes": mean_bytes,
        "repeats": len(rates["ours"]),
        "ours_lines_per_s": round(ours),
        "raw_lines_per_s": round(raw),
        "raw_streams": STREAMS,
        "ratio": paired_ratio(rates["ours"], rates["raw"]),
        "ratio_of_medians": ratio(ours, raw),
        "ceiling": {
            "lines_per_s": round(median(rates["ceiling"])),
            "connections": best,
            "sweep_lines_per_s": {str(c): round(v) for c, v in sweep.items()},
            "how": "pre-serialized _bulk bodies of 5,000 lines (the very documents ours sends) POSTed over "
            "parallel keep-alive connections by http.client; the fastest connection count of the sweep",
        },
        "ceiling_ratio": paired_ratio(rates["ours"], rates["ceiling"]),
        # This process's CPU (capture and shipper) per line stored, while sharing the cores with the node.
        "shipper_cpu_us_per_line": cpu_us_per_line(ours_cpu["shared"]),
        "pinned": pinned,
        "samples": {k: [round(v) for v in vs] for k, vs in rates.items() if vs},
        "cross_check": {
            "expected": expected,
            "stored_per_run": {k: v for k, v in checks.items() if v},
            "wanted_per_run": {k: v for k, v in wanted_per_run.items() if v},
            # Each run against what it had to store (the k-th HTTP round numbers on from the earlier ones).
            "matched": all(checks[k] == wanted_per_run[k] for k in checks),
        },
    }
    if http:
        h, raw2 = median(rates["http"]), median(rates["raw_2_streams"])
        out["http"] = {
            "ours_lines_per_s": round(h),
            "raw_lines_per_s": round(raw2),
            "raw_streams": 2 * STREAMS,
            "ratio": paired_ratio(rates["http"], rates["raw_2_streams"]),
            "ratio_of_medians": ratio(h, raw2),
            "clients": http["clients"],
            "gunicorn_workers": 2,
            "body_lines": 5000,
            "raw_1_stream_ratio": paired_ratio(rates["http"], rates["raw"]),
            "ceiling_ratio": paired_ratio(rates["http"], rates["ceiling"]),
        }
    return out
