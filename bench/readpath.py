"""The read path at two depths (issue 20 item 1): profile and time the tail, the first page and the whole read.

    ES=http://127.0.0.1:9200
    .venv/bin/python -m bench.readpath build   --es $ES [--large 3000000]
    .venv/bin/python -m bench.readpath profile --es $ES --label before   # -> bench/results/profiles/<label>-*.json
    .venv/bin/python -m bench.readpath measure --es $ES --label before   # -> bench/results/readpath-<label>.json

The corpus is bench.corpus's layout with two read logs (100k lines, and the large one) under their own prefixes
(`benchc1rp*`), kept between runs, plus one small legacy-shaped index (dynamic mapping, `date` @timestamp) of
the small execution, so every read goes through both kinds of index as it does on a cluster with Scale's old
logs. `measure` times search.reads.LogSearch as the checkout has it, so running it before and after a change on
the same node gives the comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

from bench import corpus, data
from bench.harness import log

SMALL = 100_000
RESULTS = Path(__file__).parent / "results"
LEGACY_LINES = 1_000


def layout(large: int) -> corpus.Corpus:
    return corpus.layout((SMALL, large), 0, name="rp")


def legacy_index(c: corpus.Corpus) -> str:
    return f"{c.group('a').prefix}legacy-2019.01.01"


def indices(c: corpus.Corpus) -> tuple[str, ...]:
    """Ours (group a's prefix), then the large log's group and the legacy index, as LOG_LEGACY_INDICES would."""
    return (c.group("a").pattern, c.group("b").pattern, f"{c.group('a').prefix}legacy-*")


def build(es: Elasticsearch, c: corpus.Corpus) -> dict:
    out = corpus.ensure(es, c)
    name = legacy_index(c)
    if es.count(index=name, ignore_unavailable=True, allow_no_indices=True)["count"] != LEGACY_LINES:
        es.options(ignore_status=404).indices.delete(index=name)
        cid = c.cluster_id(SMALL)
        start = datetime.fromtimestamp(data.BASE_NS // data.NS - 86400, UTC)  # a day before the execution's lines
        docs = (
            {
                "_index": name,
                "message": f"legacy line {i}",
                "stream": "stdout",
                "scale_job_exe": cid,
                "@timestamp": datetime.fromtimestamp(start.timestamp() + i / 1000, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S.%f"
                )[:-3]
                + "+0000",
                "scale_order_num": (i * 37) % 1000,
                "host": "legacy-node",
            }
            for i in range(LEGACY_LINES)
        )
        helpers.bulk(es, docs, refresh=True)
        es.indices.forcemerge(index=name, max_num_segments=1)
    out["legacy"] = {"index": name, "lines": LEGACY_LINES}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.readpath")
    parser.add_argument("command", choices=("build", "profile", "measure"))
    parser.add_argument("--es", required=True)
    parser.add_argument("--large", type=int, default=3_000_000)
    parser.add_argument("--label", default="now")
    parser.add_argument("--baseline", help="git revision whose search.reads is timed beside today's")
    parser.add_argument("--no-whole", action="store_true", help="measure: leave out the whole reads")
    parser.add_argument("--windowed", action="store_true", help="profile: also the searches search.windows makes")
    args = parser.parse_args()
    es = Elasticsearch(args.es, request_timeout=600)
    c = layout(args.large)
    if args.command == "build":
        print(json.dumps(build(es, c), indent=1))
    elif args.command == "profile":
        from bench.readpath_profile import profile_all

        profile_all(es, c, indices(c), args.label, RESULTS / "profiles", args.windowed)
    else:
        print(json.dumps(measure(es, c, args.label, args.baseline, not args.no_whole), indent=1))


def baseline_reads(rev: str):
    """search.reads as it was at git revision `rev` (with that revision's search.queries), to time beside today's
    in the same run: the machine is shared, so only interleaved timings compare."""
    import subprocess
    import sys
    import types

    root = Path(__file__).resolve().parent.parent

    def source(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=root, check=True, capture_output=True
        ).stdout.decode()

    queries = types.ModuleType("readpath_baseline_queries")
    exec(compile(source("search/queries.py"), f"{rev}:search/queries.py", "exec"), queries.__dict__)
    sys.modules[queries.__name__] = queries
    reads = types.ModuleType("readpath_baseline_reads")
    sys.modules[reads.__name__] = reads  # dataclasses look their module up
    code = source("search/reads.py").replace("from search.queries import", f"from {queries.__name__} import")
    exec(compile(code, f"{rev}:search/reads.py", "exec"), reads.__dict__)
    return reads


def measure(es: Elasticsearch, c: corpus.Corpus, label: str, baseline: str | None, whole: bool = True) -> dict:
    from search import reads as current

    sides = {"now": current}
    if baseline:
        sides = {"before": baseline_reads(baseline), "after": current}
    searches = {name: (m.LogSearch(es, indices(c)), m.Window()) for name, m in sides.items()}
    out: dict = {"label": label, "baseline": _revision(baseline), "indices": list(indices(c)), "sizes": {}}
    for size in c.read_sizes:
        cid = c.cluster_id(size)
        expected = size + (LEGACY_LINES if size == SMALL else 0)
        half = _key_at(es, ",".join(indices(c)), cid, size // 2)
        calls = {
            "tail_100": lambda s, w: s.tail(cid, w, 100),
            "first_1000": lambda s, w: s.page(cid, w, None, 1000),
            "page_1000_at_half": lambda s, w: s.page(cid, w, half, 1000),
        }
        row: dict = {}
        for what, call in calls.items():
            times = _interleaved({n: (lambda s=s, w=w, call=call: call(s, w)) for n, (s, w) in searches.items()}, 21)
            row[what] = {
                n: {"p50_ms": round(statistics.median(t), 2), "min_ms": round(min(t), 2)} for n, t in times.items()
            }
        row["whole"] = {}
        for name, (s, w) in searches.items() if whole else ():
            began = time.perf_counter()
            n = sum(1 for _ in s.stream(cid, w))
            seconds = time.perf_counter() - began
            if n != expected:
                raise RuntimeError(f"{name} {cid}: read {n} lines, expected {expected}")
            row["whole"][name] = {"lines": n, "seconds": round(seconds, 2), "lines_per_s": round(n / seconds)}
        if baseline:
            for what in calls:
                row[what]["after_over_before_p50"] = round(
                    row[what]["after"]["p50_ms"] / row[what]["before"]["p50_ms"], 3
                )
            row["whole"]["after_over_before"] = whole and round(
                row["whole"]["after"]["lines_per_s"] / row["whole"]["before"]["lines_per_s"], 3
            )
        out["sizes"][str(size)] = row
        log(f"{label} {size:,}: {json.dumps(row)}")
    if baseline:
        small, large = (out["sizes"][str(n)] for n in c.read_sizes)
        out["large_over_small"] = {
            side: {
                **{what: round(large[what][side]["p50_ms"] / small[what][side]["p50_ms"], 2) for what in calls},
                "whole_lines_per_s": whole
                and round(large["whole"][side]["lines_per_s"] / small["whole"][side]["lines_per_s"], 2),
            }
            for side in sides
        }
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]  # the machine is shared: say how busy
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"readpath-{label}.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


def _revision(rev: str | None) -> str | None:
    import subprocess

    if rev is None:
        return None
    root = Path(__file__).resolve().parent.parent
    return (
        subprocess.run(["git", "rev-parse", "--short", rev], cwd=root, check=True, capture_output=True)
        .stdout.decode()
        .strip()
    )


def _key_at(es: Elasticsearch, index: str, cid: str, order: int) -> tuple:
    """The cursor of the execution's line numbered `order`."""
    from search.queries import line_sort

    query = {"bool": {"filter": [{"term": {"scale_job_exe": cid}}, {"term": {"scale_order_num": order}}]}}
    hits = es.search(index=index, query=query, sort=line_sort(), size=1, ignore_unavailable=True)["hits"]["hits"]
    return tuple(hits[0]["sort"][:4])


def _interleaved(calls: dict, repeats: int) -> dict[str, list[float]]:
    """Each call once to warm, then `repeats` rounds of every call in turn (milliseconds)."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - began) * 1000)
    return times


if __name__ == "__main__":
    main()
