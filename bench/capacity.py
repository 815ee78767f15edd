"""A capacity model from measured figures (issue 28): how many data nodes, shards, disk, API workers and how much
PostgreSQL a log volume needs, from what bench/sizing.py measured per core of this machine.

    .venv/bin/python -m bench.capacity bench/results/sizing.json          # print the table
    .venv/bin/python -m bench.capacity bench/results/sizing.json --write  # and put it in bench/README.md

Plain arithmetic, every assumption a field of Assumptions; tests/test_capacity.py checks it by hand.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
BEGIN, END = "<!-- capacity:begin -->", "<!-- capacity:end -->"
VOLUMES = (10_000_000, 100_000_000, 1_000_000_000, 10_000_000_000)
RETENTIONS = (30, 90)


@dataclass(frozen=True)
class Figures:
    """Measured, per core of the bench machine: per CPU second of the process doing the work (bench/sizing.py
    `per_core`)."""

    ingest_lines_per_s: float  # lines the node stores per CPU second
    bytes_per_line: float  # primary store bytes per line after a force-merge
    search_common_ms_per_million_lines: float  # node CPU ms of a common-word search, per million lines searched
    api_requests_per_s_per_worker: dict[str, float]  # route -> requests/s of one gunicorn worker
    api_http_ingest_lines_per_s_per_worker: float
    sql_bytes_per_job: float
    sql_bytes_per_execution: float
    whole_read_lines_per_s: float = 0.0  # lines of one log read whole per CPU second of the node

    @classmethod
    def of(cls, document: dict) -> Figures:
        """From a bench/sizing.py result, alone or inside a `python -m bench` run."""
        sizing = document.get("sizing") or document.get("measures", {}).get("sizing")
        if not sizing or "per_core" not in sizing:
            raise SystemExit("no sizing figures in this JSON (run bench/sizing.py or make bench)")
        p = sizing["per_core"]
        return cls(
            p["ingest_lines_per_s"],
            p["bytes_per_line"],
            p["search_common_ms_per_million_lines"],
            p["api_requests_per_s_per_worker"],
            p["api_http_ingest_lines_per_s_per_worker"],
            p["sql_bytes_per_job"],
            p["sql_bytes_per_execution"],
            p.get("whole_read_lines_per_s", 0.0),
        )


@dataclass(frozen=True)
class Assumptions:
    replicas: int = 1  # one replica of every shard: a node can be lost
    peak_to_average: float = 3.0  # ingest at the busiest hour against the day's average
    node_cores: int = 8  # an assumed data node (its own cores: none shared with clients as here)
    node_disk_bytes: float = 2e12  # disk per data node
    # Plan to fill disk to 75%: under the low watermark (85%: no new shards) with room for today's index before
    # its merge, for merges (which rewrite segments) and for a lost node's shards.
    disk_fill: float = 0.75
    cpu_for_ingest: float = 0.5  # share of the data nodes' cores the peak ingest may take (search, merges: the rest)
    shard_target_bytes: float = 30e9  # primary shard size aimed at (Elastic's advice: 10-50 GB)
    shards_per_node: int = 500  # half of cluster.max_shards_per_node (1000): heap and cluster state per shard
    min_data_nodes: int = 3  # a quorum of master-eligible nodes, and somewhere for the replicas
    lines_per_job: int = 10_000  # jobs a day = lines a day / this
    executions_per_job: float = 1.2  # retries
    api_requests_per_job: int = 20  # job details, list pages, log pages and searches per job, over the day
    # Route mix of those requests (shares of bench/sizing.py's routes).
    api_mix: dict[str, float] = field(
        default_factory=lambda: {
            "job_details": 0.4,
            "job_list": 0.2,
            "first_log_page": 0.3,
            "search_common_word": 0.1,
        }
    )
    ingest_through_api: bool = True  # executors ship their logs over the API (else: straight to Elasticsearch)
    api_busy: float = 0.5  # workers busy at most half the time at peak
    min_api_workers: int = 2


@dataclass(frozen=True)
class Row:
    lines_per_day: int
    retention_days: int
    data_nodes: int
    bound_by: str  # what set the node count: ingest, disk, shards or minimum
    shards_per_daily_index: int
    disk_bytes: float  # primaries and replicas, all retained days
    api_workers: int
    postgresql_bytes: float
    search_day_p50_ms: float  # a common-word search over one day of lines, shards searched in parallel


def plan(f: Figures, lines_per_day: int, retention_days: int, a: Assumptions = Assumptions()) -> Row:
    copies = 1 + a.replicas
    peak = lines_per_day / 86400 * a.peak_to_average
    # Every copy indexes the line again: a replica costs the same CPU as its primary.
    ingest_cores = peak * copies / f.ingest_lines_per_s
    nodes_ingest = math.ceil(ingest_cores / (a.node_cores * a.cpu_for_ingest))
    day_bytes = lines_per_day * f.bytes_per_line
    disk = day_bytes * retention_days * copies
    nodes_disk = math.ceil(disk / (a.node_disk_bytes * a.disk_fill))
    # Enough primaries to keep each under the target, and enough copies that every ingesting node writes one.
    shards = max(1, math.ceil(day_bytes / a.shard_target_bytes), math.ceil(nodes_ingest / copies))
    nodes_shards = math.ceil(shards * copies * retention_days / a.shards_per_node)
    needs = {"minimum": a.min_data_nodes, "ingest": nodes_ingest, "disk": nodes_disk, "shards": nodes_shards}
    bound = max(needs, key=lambda k: needs[k])
    jobs_per_day = lines_per_day / a.lines_per_job
    requests = jobs_per_day * a.api_requests_per_job / 86400 * a.peak_to_average
    busy = requests * sum(share / f.api_requests_per_s_per_worker[route] for route, share in a.api_mix.items())
    if a.ingest_through_api:
        busy += peak / f.api_http_ingest_lines_per_s_per_worker
    workers = max(a.min_api_workers, math.ceil(busy / a.api_busy))
    sql = jobs_per_day * retention_days * (f.sql_bytes_per_job + a.executions_per_job * f.sql_bytes_per_execution)
    search = f.search_common_ms_per_million_lines * lines_per_day / 1e6 / shards
    return Row(lines_per_day, retention_days, needs[bound], bound, shards, disk, workers, sql, search)


def table(f: Figures, a: Assumptions = Assumptions()) -> list[Row]:
    return [plan(f, v, r, a) for v in VOLUMES for r in RETENTIONS]


def _count(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:g}{unit}"
    return f"{n:g}"


def _bytes(n: float) -> str:
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n / 1e3:.3g} kB"


def markdown(f: Figures, a: Assumptions, source: str) -> str:
    rows = [
        "| log lines a day | retention | data nodes (set by) | shards per daily index | disk (with replicas) "
        "| API workers | PostgreSQL | common-word search over a day, p50 (est.) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table(f, a):
        rows.append(
            f"| {_count(r.lines_per_day)} | {r.retention_days} days | {r.data_nodes} ({r.bound_by}) "
            f"| {r.shards_per_daily_index} | {_bytes(r.disk_bytes)} | {r.api_workers} | {_bytes(r.postgresql_bytes)} "
            f"| {r.search_day_p50_ms:,.0f} ms |"
        )
    mix = ", ".join(f"{k} {v:.0%}" for k, v in a.api_mix.items())
    rpw = ", ".join(f"{k} {v:g}" for k, v in f.api_requests_per_s_per_worker.items())
    text = f"""Generated by `python -m bench.capacity {source} --write` from the figures it holds (per core of the
bench machine, `sizing.per_core`):
- ingest: {f.ingest_lines_per_s:,.0f} lines/s stored per core; disk: {f.bytes_per_line:g} bytes a line (primary,
  force-merged);
- search: a common-word search (half the lines match, newest first) costs the node
  {f.search_common_ms_per_million_lines:g} ms of CPU per million lines searched;
- whole-log read: {f.whole_read_lines_per_s:,.0f} lines/s per core of the node (not in the table: reads share the
  half of the data nodes' cores left beside ingest);
- one API worker with a core, requests/s: {rpw}; HTTP ingest {f.api_http_ingest_lines_per_s_per_worker:,.0f} lines/s;
- SQL: {f.sql_bytes_per_job:,.0f} bytes a job, {f.sql_bytes_per_execution:,.0f} bytes an execution.

{chr(10).join(rows)}

Assumptions (`bench/capacity.py`, `Assumptions`):
- replicas {a.replicas}: each line is stored and indexed {1 + a.replicas} times (CPU and disk);
- ingest peaks at {a.peak_to_average:g} times the day's average, and may take {a.cpu_for_ingest:.0%} of the data
  nodes' cores (the rest for searches and merges); a data node has {a.node_cores} cores of its own and
  {_bytes(a.node_disk_bytes)} of disk, filled to {a.disk_fill:.0%} (the low watermark is 85%: room for today's
  index before its merge, for merges and for a lost node's shards);
- primary shards per daily index: enough to keep each under {_bytes(a.shard_target_bytes)}, and enough copies for
  every ingesting node to write one; at most {a.shards_per_node} shards a node (half the default
  `cluster.max_shards_per_node`); at least {a.min_data_nodes} data nodes;
- {a.lines_per_job:,} log lines a job, {a.executions_per_job:g} executions a job, {a.api_requests_per_job} API
  requests a job at the same peak ratio, in the mix {mix}; logs shipped through the API:
  {"yes" if a.ingest_through_api else "no"}; workers busy at most {a.api_busy:.0%} of the time at peak;
- PostgreSQL keeps the jobs as long as their logs (same retention);
- the search estimate divides the CPU a search of one day's lines costs by the shards of that day, searched in
  parallel (one thread each, a core each), plus nothing for fan-out and merging the shards' answers; the
  cost a line is the growth between the two sizes measured, at least half the average cost a line (two
  noisy points);
- the API workers' figure counts the workers' own CPU only; the node CPU their reads and searches cost is in the
  half of the data nodes' cores left beside ingest.

Where the model stops being trustworthy:
- every figure comes from one 2-core machine shared by the node, the client, the API and other work, so
  per-core rates are floors, and assuming they scale linearly to 8-core nodes is unchecked: merges, GC and
  the page cache behave differently with more cores and memory;
- it counts neither network nor cluster coordination: the cluster state grows with every index and shard,
  and past a few tens of data nodes dedicated master nodes are needed; above 1B lines a day the node counts
  are extrapolated more than 100 times beyond anything measured here;
- heap per shard is only bounded by the shard count (`shards_per_node`), not measured; disk is after a
  force-merge (an index being written is larger);
- the search estimate is linear and ignores the coordinating node's fan-out over many shards, caching and
  concurrent searches; the API figures are one worker's on a machine whose Elasticsearch shares its cores.
"""
    return text


def write_readme(text: str, readme: Path = README, markers: tuple[str, str] = (BEGIN, END)) -> None:
    """Put text in place of what stands between the two markers (which stay)."""
    content = readme.read_text()
    begin, end_marker = markers
    start, end = content.index(begin) + len(begin), content.index(end_marker)
    readme.write_text(content[:start] + "\n" + text + content[end:])


def shown(path: Path) -> str:
    """How the README names a result file: from the repository's root when it is inside it, else as given."""
    full = path.resolve()
    return str(full.relative_to(ROOT)) if full.is_relative_to(ROOT) else str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", help="a bench/sizing.py or python -m bench result")
    parser.add_argument("--write", action="store_true", help="put the table in bench/README.md between its markers")
    args = parser.parse_args()
    path = Path(args.json)
    figures = Figures.of(json.loads(path.read_text()))
    text = markdown(figures, Assumptions(), shown(path))
    if args.write:
        write_readme(text)
    print(text)
    print(json.dumps(asdict(Assumptions()), indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
