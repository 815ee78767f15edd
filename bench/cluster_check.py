"""The capacity model checked against a real three-node cluster (issue 28).

    .venv/bin/python -m bench.cluster_check bench/results/sizing.json [--seconds 60]

Starts three nodes with scripts/elasticsearch (ES_NODES=3, a home of its own, stopped afterwards), then does
what bench/sizing.py did on one node, with the model's replicas (1): ingest our documents over connections
spread across the nodes, force-merge and measure the disk, search the common word. Beside each measured figure,
the model's prediction from the sizing JSON:
- ingest: the per-core rate times this machine's cores, divided by the copies (each line is indexed on a
  primary and a replica). All three nodes share this machine's cores, so that is the whole cluster's rate;
- disk: bytes per line times the copies;
- search: the single node's common-word p50 at the same number of lines searched (the same cores do the work;
  what the cluster adds is coordination across nodes).
The corpus is sized from the model: `--seconds` of ingest at the predicted rate. The result goes to
bench/results/cluster-check.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import sizing
from bench.capacity import Assumptions, Figures, shown, write_readme
from bench.harness import ROOT, es_client, log, machine


def predicted(document: dict, lines: int, a: Assumptions) -> dict:
    """The model's figures for the three nodes on this machine, from the single node's sizing run."""
    f = Figures.of(document)
    sizing_ = document["sizing"]
    copies = 1 + a.replicas
    levels = sizing_["search"]["levels"].values()
    return {
        # Wall clock: the single node's rate on this machine, each line indexed `copies` times on the same cores.
        "ingest_lines_per_s": round(sizing_["ingest"]["lines_per_s"] / copies),
        "node_cpu_s_per_million_lines": round(copies * 1e6 / f.ingest_lines_per_s, 1),
        "bytes_per_line_with_replicas": round(f.bytes_per_line * copies, 1),
        "search_common_p50_ms": round(
            _line([(v["lines_searched"], v["common_word"]["p50_ms"]) for v in levels], lines), 2
        ),
        "search_common_node_cpu_ms": round(
            _line([(v["lines_searched"], v["common_word"]["node_cpu_ms_per_search"]) for v in levels], lines), 2
        ),
    }


def _line(points: list[tuple[int, float]], x: int) -> float:
    """The straight line through the first and last point, at x."""
    ordered = sorted(points)
    (x0, y0), (x1, y1) = ordered[0], ordered[-1]
    return y1 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def start_cluster(home: Path) -> list[str]:
    env = dict(os.environ, ES_HOME=str(home), ES_NODES="3", ES_PORT="0")
    env.setdefault("ES_HEAP", "512m")
    done = subprocess.run(
        [str(ROOT / "scripts" / "elasticsearch"), "start"], env=env, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"three nodes did not start:\n{done.stderr[-3000:]}")
    return done.stdout.strip().split(",")


def stop_cluster(home: Path) -> None:
    env = dict(os.environ, ES_HOME=str(home), ES_NODES="3")
    subprocess.run([str(ROOT / "scripts" / "elasticsearch"), "stop"], env=env, check=False, timeout=300)


def measure(urls: list[str], document: dict, seconds: float, executions: int, repeat: int) -> dict:
    a = Assumptions()
    guess = predicted(document, 0, a)  # the corpus: `seconds` of ingest at the predicted rate
    lines = max(executions * 1000, int(guess["ingest_lines_per_s"] * seconds) // executions * executions)
    per_exe = lines // executions
    es = es_client(",".join(urls))
    prefix = f"clusterchk{uuid.uuid4().hex[:6]}"
    health = es.cluster.health()
    out: dict = {
        "nodes": health["number_of_nodes"],
        "replicas": a.replicas,
        "lines": lines,
        "sized_from": f"{seconds:g} s of ingest at the predicted rate",
    }
    try:
        log(f"cluster check: {lines:,} lines over {len(urls)} nodes")
        sizing.warm(es, urls, prefix, lines)
        payload = sizing.bodies(prefix, executions, per_exe)
        ingest = sizing.ingest(es, urls, prefix, payload, lines, connections=6)
        del payload
        health = es.cluster.health(index=f"{prefix}-*", wait_for_status="green", timeout="120s")
        if health["status"] != "green":
            raise RuntimeError(f"the indices did not get their replicas: {health}")
        disk = sizing.disk(es, prefix, lines)
        search = sizing.search(es, prefix, lines, repeat)
        shards = es.cat.shards(index=f"{prefix}-*", format="json", h="index,shard,prirep,node").body
    finally:
        sizing._drop(es, prefix)
    all_lines = max(search["levels"].values(), key=lambda v: v["lines_searched"])
    out["measured"] = {
        "ingest_lines_per_s": ingest["lines_per_s"],
        "node_cpu_s_per_million_lines": round(ingest["node_cpu_s"] * 1e6 / lines, 1),
        "bytes_per_line_with_replicas": disk["total_bytes_per_line"],
        "search_common_p50_ms": all_lines["common_word"]["p50_ms"],
        "search_common_node_cpu_ms": all_lines["common_word"]["node_cpu_ms_per_search"],
    }
    compare(out, document)
    out["details"] = {"ingest": ingest, "disk": disk, "search": search, "shards": shards}
    return out


def compare(check: dict, document: dict) -> None:
    """The model's predictions for this check's corpus, and measured over predicted."""
    forecast = predicted(document, check["lines"], Assumptions())
    check["predicted"] = forecast
    check["measured_over_predicted"] = {
        k: round(check["measured"][k] / forecast[k], 3) for k in forecast if forecast[k]
    }


MARKERS = ("<!-- cluster-check:begin -->", "<!-- cluster-check:end -->")
NAMES = {
    "ingest_lines_per_s": "ingest, lines/s (the whole cluster, wall clock)",
    "node_cpu_s_per_million_lines": "ingest, node CPU seconds per million lines (all nodes)",
    "bytes_per_line_with_replicas": "disk, bytes per line with the replica, force-merged",
    "search_common_p50_ms": "common-word search p50, ms (bare client)",
    "search_common_node_cpu_ms": "common-word search, node CPU ms per search (all nodes)",
}


def markdown(result: dict, source: str) -> str:
    c = result["check"]
    rows = ["| measure | predicted | measured | measured / predicted |", "|---|---|---|---|"]
    for key, name in NAMES.items():
        if key in c["predicted"]:
            rows.append(
                f"| {name} | {c['predicted'][key]:,} | {c['measured'][key]:,} | {c['measured_over_predicted'][key]} |"
            )
    load = result["machine"]["load_avg_at_start"][0]
    return f"""Written by `python -m bench.cluster_check {result["model_from"]} --write` into `{source}`:
{c["nodes"]} nodes (heap {result["elasticsearch"]["heap_per_node"]} each) on this one machine, replicas
{c["replicas"]}, {c["lines"]:,} lines ({c["sized_from"]}), load average {load:.1f} at the start.

{chr(10).join(rows)}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", help="the bench/sizing.py result the model's figures come from")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--executions", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cluster-check.json"))
    parser.add_argument("--write", action="store_true", help="put the comparison in bench/README.md")
    parser.add_argument(
        "--compare-only", action="store_true", help="no cluster: the predictions of --out's saved check again"
    )
    args = parser.parse_args()
    document = json.loads(Path(args.json).read_text())
    if "sizing" not in document:
        document = {"sizing": document["measures"]["sizing"]}
    if args.compare_only:
        result = json.loads(Path(args.out).read_text())
        result["model_from"] = args.json
        compare(result["check"], document)
    else:
        result = {"machine": machine(), "model_from": args.json}
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="scale-cluster-check-") as home:
            try:
                urls = start_cluster(Path(home))
                result["elasticsearch"] = {"nodes": len(urls), "heap_per_node": os.environ.get("ES_HEAP", "512m")}
                result["check"] = measure(urls, document, args.seconds, args.executions, 20)
            finally:
                stop_cluster(Path(home))
        result["duration_s"] = round(time.monotonic() - began, 1)
        result["machine"]["load_avg_at_end"] = list(os.getloadavg())
    text = json.dumps(result, indent=2)
    out = Path(args.out)
    out.write_text(text + "\n")
    print(text)
    table = markdown(result, shown(out.resolve()))
    if args.write:
        write_readme(table, markers=MARKERS)
    print(table, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
