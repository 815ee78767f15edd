"""Measure 5: requests/s and errors of GET /v6/jobs/{id}/ and the first log page under a load generator.

The load generator is bounded in count and time: `processes` x `connections` keep-alive HTTP/1.1 connections
on loopback, each sending its next request as soon as the last answer arrived, until `seconds` have passed or
`max_requests` were sent. Raw: bench/bare_app.py (the same work with nothing around it) under the same
gunicorn configuration and worker count.

Bodies are checked, ours against raw: before the load every path is fetched once on both sides and compared
(the same job and latest execution; the same 1,000 log lines), and the size of each checked body is recorded;
under the load a 200 whose body size differs from its path's checked size counts as an error, not as ok.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time

from bench.harness import Client, log
from bench.stats import median, paired_ratio

TOOK_DIGITS = 7  # up to 10^7 ms: a body differing by more is truncated or wrong, not slow


def _worker(
    url: str,
    paths: list[str],
    sizes: dict[str, int],
    connections: int,
    seconds: float,
    max_requests: int,
    offset: int,
    out,
) -> None:
    lock = threading.Lock()
    counts = {"ok": 0, "errors": 0, "sent": 0, "wrong_body": 0, "resends": 0}
    deadline = time.monotonic() + seconds

    def run(n: int) -> None:
        client = Client(url, timeout=60)
        i = offset + n
        while time.monotonic() < deadline:
            with lock:
                if counts["sent"] >= max_requests:
                    break
                counts["sent"] += 1
            path = paths[i % len(paths)]
            wrong = False
            try:
                status, size = client.get_size(path)
                # A log body's `took` (ours counts from the request's arrival, so a loaded machine adds digits: 50
                # ms checked, 20,000 ms under load) may differ by a few digits from the checked answer's.
                wrong = status == 200 and abs(size - sizes[path]) > (TOOK_DIGITS if "/logs/" in path else 0)
                ok = status == 200 and not wrong
            except OSError:
                ok = False
                client.close()
            with lock:
                counts["ok" if ok else "errors"] += 1
                counts["wrong_body"] += wrong
            i += 7
        client.close()
        with lock:
            counts["resends"] += client.resends

    threads = [threading.Thread(target=run, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(counts)


def load(
    url: str,
    paths: list[str],
    sizes: dict[str, int],
    seconds: float,
    max_requests: int,
    processes: int = 2,
    connections: int = 8,
) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker, args=(url, paths, sizes, connections, seconds, max_requests // processes, p * 1000, out)
        )
        for p in range(processes)
    ]
    began = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    elapsed = time.perf_counter() - began
    ok = sum(r["ok"] for r in results)
    errors = sum(r["errors"] for r in results)
    return {
        "requests_per_s": round(ok / elapsed, 1),
        "ok": ok,
        "errors": errors,
        "wrong_bodies": sum(r["wrong_body"] for r in results),
        "resends": sum(r["resends"] for r in results),
        "seconds": round(elapsed, 1),
    }


def _comparable(name: str, body: bytes, url: str) -> object:
    """The body as compared across sides: the page links without the server's own address, the log body
    without `took` (milliseconds: it varies from one answer to the next)."""
    doc = json.loads(body.replace(url.encode(), b"http://server"))
    if name == "first_log_page":
        doc.pop("took")
    return doc


def checked_sizes(ours_url: str, raw_url: str, name: str, ours_paths: list[str], raw_paths: list[str]) -> dict:
    """Fetch every path once on both sides and compare the answers; returns the body size of each path."""
    ours, raw = Client(ours_url), Client(raw_url)
    sizes = {}
    try:
        for ours_path, raw_path in zip(ours_paths, raw_paths, strict=True):
            (o_status, o_body), (r_status, r_body) = ours.get(ours_path), raw.get(raw_path)
            if (o_status, r_status) != (200, 200):
                raise RuntimeError(f"throughput {name}: {ours_path} {o_status}, {raw_path} {r_status}")
            if _comparable(name, o_body, ours_url) != _comparable(name, r_body, raw_url):
                raise RuntimeError(f"throughput {name}: ours {ours_path} differs from raw {raw_path}")
            sizes[ours_path], sizes[raw_path] = len(o_body), len(r_body)
            # A body is the same from one request to the next (nothing in it changes while the load runs).
            again = (
                _comparable(name, ours.get(ours_path)[1], ours_url),
                _comparable(name, raw.get(raw_path)[1], raw_url),
            )
            if again != (_comparable(name, o_body, ours_url), _comparable(name, r_body, raw_url)):
                raise RuntimeError(f"throughput {name}: {ours_path} or {raw_path} answered two different bodies")
    finally:
        ours.close()
        raw.close()
    return sizes


def _plain_keys(doc: dict) -> set:
    """What a plain answer (bench/plain_app.py) holds that ours must too: the first column of every SQL row and
    every Elasticsearch hit's scale_order_num."""
    keys = {row[0] for rows in doc["sql"] for row in rows if row}
    return keys | {hit.get("scale_order_num") for hits in doc["es"] for hit in hits}


def _our_keys(name: str, doc: dict) -> set:
    if name == "first_log_page":
        return {hit["_source"]["scale_order_num"] for hit in doc["hits"]["hits"]}  # Scale's search response
    if name == "job_list":
        return {job["id"] for job in doc["results"]}
    return {doc["id"]}


def checked_plain_sizes(ours_url: str, plain_url: str, name: str, paths: list[str]) -> dict:
    """Fetch every path once on our side and the plain one: the plain answer must hold what ours shows (the
    job ids, the lines' order numbers), and be the same twice; returns the plain body size of each path."""
    ours, plain = Client(ours_url), Client(plain_url)
    sizes = {}
    try:
        for path in paths:
            (o_status, o_body), (p_status, p_body) = ours.get(path), plain.get(path)
            if (o_status, p_status) != (200, 200):
                raise RuntimeError(f"throughput {name}: {path} ours {o_status}, plain {p_status}")
            missing = _our_keys(name, json.loads(o_body)) - _plain_keys(json.loads(p_body))
            if missing:
                raise RuntimeError(f"throughput {name}: plain answer to {path} lacks {sorted(missing)[:5]}")
            if plain.get(path)[1] != p_body:
                raise RuntimeError(f"throughput {name}: plain {path} answered two different bodies")
            sizes[path] = len(p_body)
    finally:
        ours.close()
        plain.close()
    return sizes


def measure(
    ours_url: str,
    raw_url: str,
    targets: dict[str, tuple[list[str], list[str]]],
    seconds: float,
    max_requests: int,
    repeat: int,
    concurrency: tuple[int, int],
    plain_url: str | None = None,
) -> dict:
    """targets: name -> (our paths, raw paths). plain_url: bench/plain_app.py serving our paths, measured as a
    third side (ratio_to_plain)."""
    out: dict = {
        "concurrency": concurrency[0] * concurrency[1],
        "seconds_per_run": seconds,
        "max_requests_per_run": max_requests,
        "repeats": repeat,
    }
    for name, (ours_paths, raw_paths) in targets.items():
        sizes = checked_sizes(ours_url, raw_url, name, ours_paths, raw_paths)
        # side -> (url, paths, checked body sizes); the sides take turns, their order rotating each round
        sides = {"ours": (ours_url, ours_paths, sizes), "raw": (raw_url, raw_paths, sizes)}
        if plain_url:
            sides["plain"] = (plain_url, ours_paths, checked_plain_sizes(ours_url, plain_url, name, ours_paths))
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        order = list(sides)
        for round_ in range(repeat):
            for side in order[round_ % len(order) :] + order[: round_ % len(order)]:
                url, paths, side_sizes = sides[side]
                if round_ == 0:
                    # warm the workers' connections and caches
                    load(url, paths[:50], side_sizes, 0.5, 200, *concurrency)
                result = load(url, paths, side_sizes, seconds, max_requests, *concurrency)
                runs[side].append(result)
                log(
                    f"throughput {name} {side}: {result['requests_per_s']} req/s, {result['errors']} errors "
                    f"({result['wrong_bodies']} wrong bodies)"
                )
        rates = {side: [x["requests_per_s"] for x in side_runs] for side, side_runs in runs.items()}
        out[name] = {
            "path_example": ours_paths[0],
            "ours_requests_per_s": median(rates["ours"]),
            "raw_requests_per_s": median(rates["raw"]),
            "ratio": paired_ratio(rates["ours"], rates["raw"]),
            "ours_errors": sum(x["errors"] for x in runs["ours"]),
            "raw_errors": sum(x["errors"] for x in runs["raw"]),
            "cross_check": {
                "paths_compared": len(ours_paths),
                "bodies_equal_raw": True,
                "ours_wrong_bodies": sum(x["wrong_bodies"] for x in runs["ours"]),
                "raw_wrong_bodies": sum(x["wrong_bodies"] for x in runs["raw"]),
            },
            "runs": runs,
        }
        # An error or a wrong body on either side makes the comparison meaningless: the measure is not matched.
        out[name]["cross_check"]["matched"] = out[name]["ours_errors"] + out[name]["raw_errors"] == 0
        if plain_url:
            out[name]["plain_requests_per_s"] = median(rates["plain"])
            out[name]["ratio_to_plain"] = paired_ratio(rates["ours"], rates["plain"])
            out[name]["plain_errors"] = sum(x["errors"] for x in runs["plain"])
            out[name]["cross_check"]["plain_holds_ours"] = True
            out[name]["cross_check"]["matched"] &= out[name]["plain_errors"] == 0
    return out
