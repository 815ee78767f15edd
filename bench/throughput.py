"""Measure 5: requests/s and errors of GET /v6/jobs/{id}/ and the first log page under a load generator.

The load generator is bounded in count and time: `processes` x `connections` keep-alive HTTP/1.1 connections
on loopback, each sending its next request as soon as the last answer arrived, until `seconds` have passed or
`max_requests` were sent. Raw: bench/bare_app.py (the same work with nothing around it) under the same
gunicorn configuration and worker count.
"""
from __future__ import annotations

import multiprocessing
import threading
import time

from bench.harness import Client, log
from bench.stats import median, paired_ratio


def _worker(url: str, paths: list[str], connections: int, seconds: float, max_requests: int, offset: int,
            out) -> None:
    lock = threading.Lock()
    counts = {"ok": 0, "errors": 0, "sent": 0}
    deadline = time.monotonic() + seconds

    def run(n: int) -> None:
        client = Client(url, timeout=60)
        i = offset + n
        while time.monotonic() < deadline:
            with lock:
                if counts["sent"] >= max_requests:
                    break
                counts["sent"] += 1
            try:
                status, _ = client.get(paths[i % len(paths)], sink=True)
                ok = status == 200
            except OSError:
                ok = False
                client.close()
            with lock:
                counts["ok" if ok else "errors"] += 1
            i += 7
        client.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(counts)


def load(url: str, paths: list[str], seconds: float, max_requests: int, processes: int = 2,
         connections: int = 8) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, paths, connections, seconds, max_requests // processes,
                                                 p * 1000, out)) for p in range(processes)]
    began = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    elapsed = time.perf_counter() - began
    ok = sum(r["ok"] for r in results)
    errors = sum(r["errors"] for r in results)
    return {"requests_per_s": round(ok / elapsed, 1), "ok": ok, "errors": errors, "seconds": round(elapsed, 1)}


def measure(ours_url: str, raw_url: str, targets: dict[str, tuple[list[str], list[str]]], seconds: float,
            max_requests: int, repeat: int, concurrency: tuple[int, int]) -> dict:
    """targets: name -> (our paths, raw paths)."""
    out: dict = {"concurrency": concurrency[0] * concurrency[1], "seconds_per_run": seconds,
                 "max_requests_per_run": max_requests, "repeats": repeat}
    for name, (ours_paths, raw_paths) in targets.items():
        runs: dict[str, list[dict]] = {"ours": [], "raw": []}
        for round_ in range(repeat):
            for side in (["ours", "raw"] if round_ % 2 == 0 else ["raw", "ours"]):
                url, paths = (ours_url, ours_paths) if side == "ours" else (raw_url, raw_paths)
                if round_ == 0:
                    load(url, paths[:50], 0.5, 200, *concurrency)  # warm the workers' connections and caches
                result = load(url, paths, seconds, max_requests, *concurrency)
                runs[side].append(result)
                log(f"throughput {name} {side}: {result['requests_per_s']} req/s, {result['errors']} errors")
        o = median([r["requests_per_s"] for r in runs["ours"]])
        r = median([r["requests_per_s"] for r in runs["raw"]])
        out[name] = {"path_example": ours_paths[0], "ours_requests_per_s": o, "raw_requests_per_s": r,
                     "ratio": paired_ratio([x["requests_per_s"] for x in runs["ours"]],
                                                [x["requests_per_s"] for x in runs["raw"]]), "ours_errors": sum(x["errors"] for x in runs["ours"]),
                     "raw_errors": sum(x["errors"] for x in runs["raw"]), "runs": runs}
    return out
