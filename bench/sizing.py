"""The figures a sizing needs (issue 28), measured on one node and written per core of this machine.

`python -m bench` runs it as the `sizing` measure; alone, against a node of its own:

    .venv/bin/python -m bench.sizing --lines 1000000 --out bench/results/sizing.json

What it measures (bench/capacity.py turns it into a table):
- ingest: our documents (ingest.documents.bulk_pairs of `executions` logs spread over two days), serialized
  before the timer into 5,000-line _bulk bodies, POSTed over parallel keep-alive connections until refreshed
  and counted: the lines/s the node stores (the ingest ceiling's method, bench/ceilings.py);
- disk: after a force-merge to one segment, the primaries' store bytes per line, and the `_source` share from
  the disk usage API (`_disk_usage?run_expensive_tasks=true`);
- search: the common and the rare word with the API's sort and page (bare client), over one day and over
  both, so p50 against lines searched gives a slope;
- whole read: one execution's log over a point-in-time (bare client, as search.reads does);
- API: requests/s of one gunicorn worker for the main routes, and HTTP ingest lines/s of one worker;
- SQL: rows and bytes per job and per execution after the real stores created, started and finished them
  (SQLite: dbstat; PostgreSQL: pg_total_relation_size).

Everything shares this machine's cores (node, client, API, and whatever else runs), so "per core" is the work
done per CPU second of the process doing it (the node's JVMs for ingest, search and reads; the one gunicorn
worker for the API), read from /proc: what a core gives a process that has it to itself. The wall-clock rates
are kept beside them (`per_core.wall_clock_per_machine_core`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from bench import ceilings, data
from bench.harness import Client, Gunicorn, log
from bench.ingest_bench import drop, http_bodies, origin, outputs, refreshed_count, run_http
from bench.log_bench import bare_read, bare_search
from bench.stats import summary_ms

DAY_NS = 86400 * data.NS
FIRST_DAY_NS = (data.BASE_NS // DAY_NS + 1) * DAY_NS  # midnight after BASE_NS: lines fall on two whole days


# --- CPU: what the work cost, whatever else the machine was doing ---------------------------------------------


def node_cpu_s(es: Elasticsearch) -> float:
    """CPU seconds the cluster's Elasticsearch processes have used (all nodes): from /proc when they run on this
    machine (exact), else the nodes stats (refreshed about once a second: too coarse for a few searches)."""
    pids = [n["process"]["id"] for n in es.nodes.info(metric="process")["nodes"].values()]
    if all(b"elasticsearch" in _cmdline(pid) for pid in pids):
        return sum(process_cpu_s(pid) for pid in pids)
    stats = es.nodes.stats(metric="process")["nodes"]
    return sum(n["process"]["cpu"]["total_in_millis"] for n in stats.values()) / 1000


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user and system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the corpus: our own documents ----------------------------------------------------------------------------


def bodies(prefix: str, executions: int, per_exe: int) -> list[bytes]:
    """_bulk bodies of ceilings.CHUNK_LINES lines: executions 1..E (scale_job_<e>x1), the first half on day one, the
    rest on day two, each log's lines a few milliseconds apart; messages from bench.data.Lines."""
    from ingest.documents import CapturedLine, bulk_pairs

    lines = data.Lines()
    pairs: list[tuple[bytes, bytes]] = []
    per_day = -(-executions // 2)
    step = max(1, (DAY_NS // 2) // max(per_exe, 1))
    for e in range(1, executions + 1):
        start = FIRST_DAY_NS + ((e - 1) // per_day) * DAY_NS + ((e - 1) % per_day) * (DAY_NS // (2 * per_day))
        n0 = (e - 1) * per_exe
        captured = (
            CapturedLine(lines.message(n0 + i), "stderr" if i % 5 == 0 else "stdout", start + i * step, i + 1)
            for i in range(per_exe)
        )
        pairs.extend(bulk_pairs(prefix, origin(e), captured)[0])
    return ceilings.bulk_bodies(pairs)


def ingest(es: Elasticsearch, urls: list[str], prefix: str, payload: list[bytes], lines: int, connections: int) -> dict:
    from ingest.template import LogTemplate, ensure_template

    replicas = 1 if len(urls) > 1 else 0  # a single node cannot hold a replica: it would only wait for one
    ensure_template(es, LogTemplate(prefix, replicas=replicas))
    cpu = node_cpu_s(es)
    began = time.perf_counter()
    rejected = ceilings.ingest(urls, payload, connections)  # over connections spread across the nodes
    counted = refreshed_count(es, prefix)
    seconds = time.perf_counter() - began
    cpu = node_cpu_s(es) - cpu
    if counted != lines:
        raise RuntimeError(f"sizing ingest: {counted} of {lines} lines stored")
    return {
        "lines": lines,
        "seconds": round(seconds, 2),
        "lines_per_s": round(lines / seconds),
        # Lines stored per CPU second of the node(s): a core's worth, however busy the machine was.
        "node_cpu_s": round(cpu, 2),
        "lines_per_node_cpu_s": round(lines / cpu),
        "connections": connections,
        "replicas": replicas,
        "rejected_429": rejected,
    }


def warm(es: Elasticsearch, urls: list[str], prefix: str, lines: int) -> None:
    """A fresh node's JIT is cold: the first bulk requests run several times slower. Write (and drop) a tenth
    of the corpus, at least 20,000 lines, under a prefix of its own before anything is timed."""
    size = max(20_000, lines // 10)
    warm_prefix = f"{prefix}w"
    ingest(es, urls, warm_prefix, bodies(warm_prefix, 4, size // 4), size // 4 * 4, connections=4)
    _drop(es, warm_prefix)


# --- disk after a force-merge ---------------------------------------------------------------------------------


def disk(es: Elasticsearch, prefix: str, lines: int) -> dict:
    """Store bytes per line after a force-merge to one segment; the `_source` share from _disk_usage."""
    pattern = f"{prefix}-*"
    es.options(request_timeout=3600).indices.forcemerge(index=pattern, max_num_segments=1)
    es.indices.refresh(index=pattern)
    stats = es.indices.stats(index=pattern, metric="store,docs")["_all"]
    primary = stats["primaries"]["store"]["size_in_bytes"]
    total = stats["total"]["store"]["size_in_bytes"]
    usage = es.perform_request(
        "POST",
        f"/{pattern}/_disk_usage",
        params={"run_expensive_tasks": "true"},
        headers={"accept": "application/json"},
    ).body
    fields: dict[str, int] = {}
    analysed = 0
    for name, index in usage.items():
        if name == "_shards":
            continue
        analysed += index["store_size_in_bytes"]
        for field, figures in index["fields"].items():
            fields[field] = fields.get(field, 0) + figures["total_in_bytes"]
    source = fields.get("_source", 0)
    top = sorted(fields.items(), key=lambda kv: -kv[1])[:8]
    return {
        "primary_store_bytes": primary,
        "total_store_bytes": total,
        "primary_bytes_per_line": round(primary / lines, 1),
        "total_bytes_per_line": round(total / lines, 1),
        "disk_usage_store_bytes": analysed,
        "source_bytes": source,
        "source_share": round(source / analysed, 3) if analysed else None,
        "largest_fields_bytes_per_line": {k: round(v / lines, 1) for k, v in top},
    }


# --- search and whole read -------------------------------------------------------------------------------------


def search(es: Elasticsearch, prefix: str, lines: int, repeat: int) -> dict:
    """p50 of the common and rare word over the first day's index and over both: (lines searched, p50)."""
    days = sorted(es.indices.get(index=f"{prefix}-*"))
    levels = {}
    for k in range(1, len(days) + 1):
        index = ",".join(days[:k])
        searched = es.count(index=index)["count"]
        level: dict[str, Any] = {"lines_searched": searched, "indices": k}
        for name, word in (("common_word", data.COMMON_WORD), ("rare_word", data.RARE_WORD)):
            for _ in range(2):  # warm-ups
                bare_search(es, index, word)
            samples = []
            cpu = node_cpu_s(es)
            for _ in range(repeat):
                began = time.perf_counter()
                resp = bare_search(es, index, word)
                samples.append((time.perf_counter() - began) * 1000)
            cpu_ms = (node_cpu_s(es) - cpu) * 1000 / repeat
            matched = resp["hits"]["total"]["value"]
            level[name] = {**summary_ms(samples), "node_cpu_ms_per_search": round(cpu_ms, 2), "matched": matched}
        levels[str(searched)] = level
    out: dict[str, Any] = {"levels": levels, "lines": lines}
    # The common word (half the lines match, sorted newest first): the worst case grows with what it searches.
    for key, figure in (
        ("p50_ms", "common_p50_ms_per_million_lines"),
        ("node_cpu_ms_per_search", "common_cpu_ms_per_million_lines"),
    ):
        points = sorted((v["lines_searched"], v["common_word"][key]) for v in levels.values())
        (x0, y0), (x1, y1) = points[0], points[-1]
        slope = (y1 - y0) / (x1 - x0) * 1e6 if x1 > x0 else y1 / x1 * 1e6
        # Never below the average cost a line: noise could make the two points' slope flat or negative.
        out[figure] = round(max(slope, 0.5 * y1 / x1 * 1e6), 3)
    return out


def whole_read(es: Elasticsearch, prefix: str, per_exe: int, repeat: int) -> dict:
    seconds = []
    cpu = node_cpu_s(es)
    for _ in range(repeat):
        began = time.perf_counter()
        count, _size = bare_read(es, f"{prefix}-*", "scale_job_1x1")
        seconds.append(time.perf_counter() - began)
        if count != per_exe:
            raise RuntimeError(f"sizing read: {count} of {per_exe} lines")
    cpu = node_cpu_s(es) - cpu
    middle = sorted(seconds)[len(seconds) // 2]
    return {
        "lines": per_exe,
        "repeats": repeat,
        "lines_per_s": round(per_exe / middle),
        "lines_per_node_cpu_s": round(per_exe * repeat / cpu),
    }


# --- the API: one worker -----------------------------------------------------------------------------------------


def api(es: Elasticsearch, es_url: str, work: Path, prefix: str, executions: int, per_exe: int, seconds: float) -> dict:
    from bench import throughput as tp
    from bench.__main__ import TOKEN, api_env, logs_database

    db = f"sqlite:///{work / 'sizing-api.db'}"
    ingest_exes = logs_database(db, executions, 4)
    routes = {
        "job_details": [f"/v6/jobs/{i}/" for i in range(1, executions + 1)],
        "job_list": ["/v6/jobs/?page_size=100"],
        "first_log_page": ["/v6/job-executions/1/logs/combined/?limit=1000"],
        "search_common_word": [f"/v6/logs/?q={data.COMMON_WORD}"],
    }
    out: dict[str, Any] = {"gunicorn_workers": 1}
    with Gunicorn(api_env(work, es_url, prefix, db), workers=1, log_dir=work) as server:
        client = Client(server.url)
        for route, paths in routes.items():
            sizes = {}
            for path in paths:
                status, size = client.get_size(path)
                if status != 200:
                    raise RuntimeError(f"sizing api {path}: {status}")
                sizes[path] = size
            tp.load(server.url, paths, sizes, 1, 1_000_000, processes=1, connections=4)  # warm-up
            (worker,) = server.worker_pids()
            cpu = process_cpu_s(worker)
            fig = tp.load(server.url, paths, sizes, seconds, 1_000_000, processes=1, connections=4)
            cpu = process_cpu_s(worker) - cpu
            if fig["errors"] or fig["wrong_bodies"]:
                raise RuntimeError(f"sizing api {route}: {fig}")
            out[route] = {
                "requests_per_s": fig["requests_per_s"],
                "requests": fig["ok"],
                "worker_cpu_s": round(cpu, 2),
                # What one worker serves with a core of its own (its CPU only: Elasticsearch's and SQL's apart).
                "requests_per_worker_cpu_s": round(fig["ok"] / cpu, 1),
            }
        client.close()
    http_prefix = f"{prefix}h"
    lines_each = min(per_exe, 20_000)
    raw = outputs(data.Lines(), 4, lines_each)
    with Gunicorn(api_env(work, es_url, http_prefix, db), workers=1, log_dir=work) as server:
        (worker,) = server.worker_pids()
        cpu = process_cpu_s(worker)
        took = run_http(es, server.url, http_prefix, ingest_exes, http_bodies(raw, 5000), 2, TOKEN)
        cpu = process_cpu_s(worker) - cpu
    out["http_ingest"] = {
        "lines": 4 * lines_each,
        "lines_per_s": round(4 * lines_each / took),
        "worker_cpu_s": round(cpu, 2),
        "lines_per_worker_cpu_s": round(4 * lines_each / cpu),
    }
    _drop(es, http_prefix)
    return out


# --- SQL ---------------------------------------------------------------------------------------------------------


def sql(url: str, jobs: int) -> dict:
    """Create, start and finish `jobs` jobs through the real stores; bytes and rows per table that grew."""
    from sqlalchemy import text

    from bench.jobs_data import _wipe
    from core.times import utcnow
    from jobs.db import make_engine, upgrade
    from jobs.stores import Stores

    _wipe(make_engine(url))
    stores = Stores.open(url, utcnow)
    upgrade(stores.db.engine)
    engine = stores.db.engine
    job_type, _ = stores.job_types.save_job_type("sizing-type:1", data.manifest("sizing-type", "1.0.0"))

    def run(first: int, count: int) -> tuple[dict[str, int], dict[str, int]]:
        for k in range(first, first + count):
            job_id = stores.jobs.create_job(job_type.id, {"json": {"x": k}})
            exe = stores.executions.start_execution(job_id, f"node-{k % 20:02d}")
            stores.executions.finish_execution(exe.id, "COMPLETED", output={"files": {}, "json": {"y": k}})
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE"))
        sizes = _table_bytes(engine)
        with engine.connect() as c:
            return sizes, {t: c.scalar(text(f'SELECT count(*) FROM "{t}"')) for t in sizes}

    # Bytes per row from the second half only: the first half pays the tables' and indexes' fixed pages.
    half = jobs // 2
    bytes_1, rows_1 = run(0, half)
    bytes_2, rows_2 = run(half, jobs - half)
    stores.close()
    grew = {
        t: {"rows": rows_2[t] - rows_1.get(t, 0), "bytes": bytes_2[t] - bytes_1.get(t, 0)}
        for t in bytes_2
        if rows_2[t] > rows_1.get(t, 0)
    }
    added = jobs - half
    executions = grew.get("job_executions", {}).get("rows", 0)
    exe_bytes = grew.get("job_executions", {}).get("bytes", 0)
    job_bytes = sum(v["bytes"] for t, v in grew.items() if t != "job_executions")
    return {
        "jobs": jobs,
        "jobs_measured": added,
        "executions_measured": executions,
        "tables": grew,
        "bytes_per_job": round(job_bytes / added),
        "bytes_per_execution": round(exe_bytes / max(executions, 1)),
        "rows_per_job": round(sum(v["rows"] for t, v in grew.items() if t != "job_executions") / added, 2),
    }


def _table_bytes(engine) -> dict[str, int]:
    """Bytes per table, its indexes and TOAST included."""
    from sqlalchemy import text

    with engine.connect() as c:
        if engine.dialect.name == "postgresql":
            query = (
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'"
            )
            return {name: int(size) for name, size in c.execute(text(query))}
        # SQLite: every b-tree's pages (dbstat), indexes counted with their table.
        query = (
            "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name "
            "WHERE m.type IN ('table', 'index') GROUP BY m.tbl_name"
        )
        return {name: int(size) for name, size in c.execute(text(query))}


# --- all of it ---------------------------------------------------------------------------------------------------


def measure(
    es: Elasticsearch,
    es_url: str,
    work: Path,
    lines: int,
    executions: int = 20,
    repeat: int = 20,
    api_seconds: float = 5,
    sql_jobs: int = 2000,
    pg_server: str | None = None,
) -> dict:
    per_exe = lines // executions
    lines = per_exe * executions
    prefix = f"sizing{uuid.uuid4().hex[:6]}"
    cores = os.cpu_count() or 1
    out: dict[str, Any] = {"cores": cores, "lines": lines, "executions": executions}
    try:
        log(f"sizing: {lines:,} lines")
        warm(es, [es_url], prefix, lines)
        payload = bodies(prefix, executions, per_exe)
        out["ingest"] = ingest(es, [es_url], prefix, payload, lines, connections=4)
        del payload
        log(f"sizing ingest: {out['ingest']}")
        out["disk"] = disk(es, prefix, lines)
        log(f"sizing disk: {out['disk']['primary_bytes_per_line']} bytes/line, _source {out['disk']['source_share']}")
        out["search"] = search(es, prefix, lines, repeat)
        out["whole_read"] = whole_read(es, prefix, per_exe, 3)
        log(f"sizing read: {out['whole_read']}")
        out["api"] = api(es, es_url, work, prefix, executions, per_exe, api_seconds)
        log(f"sizing api: {out['api']}")
    finally:
        _drop(es, prefix)
    out["sql"] = {"sqlite": sql(f"sqlite:///{work / 'sizing-sql.db'}", sql_jobs)}
    if pg_server:
        from bench.harness import bench_database

        out["sql"]["postgresql"] = sql(bench_database(pg_server, "scale_bench_sizing"), sql_jobs)
    out["per_core"] = per_core(out)
    return out


def per_core(m: dict) -> dict:
    """What bench/capacity.py reads: each rate per CPU second of the process doing the work (the node for
    ingest, search and reads; the one gunicorn worker for the API), so a core's worth when that process has a
    core to itself. On a shared machine the wall-clock rates (beside them in the JSON) are lower."""
    a = m["api"]
    routes = ("job_details", "job_list", "first_log_page", "search_common_word")
    fig = {
        "ingest_lines_per_s": m["ingest"]["lines_per_node_cpu_s"],
        "whole_read_lines_per_s": m["whole_read"]["lines_per_node_cpu_s"],
        "search_common_ms_per_million_lines": m["search"]["common_cpu_ms_per_million_lines"],
        "bytes_per_line": m["disk"]["primary_bytes_per_line"],
        "source_share": m["disk"]["source_share"],
        "api_requests_per_s_per_worker": {r: a[r]["requests_per_worker_cpu_s"] for r in routes},
        "api_http_ingest_lines_per_s_per_worker": a["http_ingest"]["lines_per_worker_cpu_s"],
        # The same, wall clock over this machine's cores, all sharing them (a floor on a loaded machine).
        "wall_clock_per_machine_core": {
            "ingest_lines_per_s": round(m["ingest"]["lines_per_s"] / m["cores"]),
            "whole_read_lines_per_s": round(m["whole_read"]["lines_per_s"] / m["cores"]),
            "search_common_p50_ms_per_million_lines": m["search"]["common_p50_ms_per_million_lines"],
            "api_requests_per_s_one_worker": {r: a[r]["requests_per_s"] for r in routes},
        },
    }
    backend = "postgresql" if "postgresql" in m["sql"] else "sqlite"
    fig["sql_backend"] = backend
    fig["sql_bytes_per_job"] = m["sql"][backend]["bytes_per_job"]
    fig["sql_bytes_per_execution"] = m["sql"][backend]["bytes_per_execution"]
    return fig


def _drop(es: Elasticsearch, prefix: str) -> None:
    drop(es, prefix)
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-logs")


def main() -> int:
    from bench.harness import ROOT, elasticsearch, es_client, machine, postgres_server

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--executions", type=int, default=20)
    parser.add_argument("--sql-jobs", type=int, default=2000)
    parser.add_argument("--api-seconds", type=float, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "sizing.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="scale-sizing-"))
    result: dict[str, Any] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="scale-sizing-es-") as home, elasticsearch(Path(home)) as es_url:
        es = es_client(es_url)
        result["elasticsearch"] = {"version": es.info()["version"]["number"], "heap": os.environ.get("ES_HEAP", "4g")}
        with postgres_server() as pg:
            result["sizing"] = measure(
                es,
                es_url,
                work,
                args.lines,
                args.executions,
                api_seconds=args.api_seconds,
                sql_jobs=args.sql_jobs,
                pg_server=pg,
            )
    result["machine"]["load_avg_at_end"] = list(os.getloadavg())
    text = json.dumps(result, indent=2)
    Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
