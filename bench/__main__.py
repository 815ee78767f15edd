"""`python -m bench [--quick] [--only m1,m2] [--profile]`: every measure of issue 6 in one run, one JSON document.

Starts what it needs: a real Elasticsearch (ELASTICSEARCH_URL, else our launcher), PostgreSQL (DATABASE_URL's
server when it is PostgreSQL, else our own throwaway cluster when PostgreSQL is installed), and the API under
gunicorn with gunicorn.conf.py. Prints the JSON on stdout and writes it to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import search2_bench
from bench.harness import (
    ROOT,
    Gunicorn,
    bench_database,
    elasticsearch,
    es_client,
    log,
    machine,
    postgres_server,
    rss_mb,
)
from bench.search2_bench import SEARCH2_TARGETS, search2_targets

MEASURES = (
    "job_listing",
    "ingest",
    "log_read",
    "first_page",
    "log_scaling",
    "throughput",
    "workers",
    "search",
    "search2",
    "sizing",
)

SIZES: dict[str, dict[str, Any]] = {
    # Sizes are the issue's; the *_budget_s bound how long repeats go on (the machine is shared and slow).
    "full": {
        "job_sizes": (10_000, 100_000, 1_000_000, 10_000_000),  # PostgreSQL
        "job_sqlite_sizes": (10_000, 100_000, 1_000_000, 10_000_000),
        "jobs": 1_000_000,  # where the ratio and the 20 ms targets are judged; the 40 ms one at the largest
        "job_repeat": 60,
        "job_budget_s": 12,
        "job_scaling_repeat": 25,
        "job_scaling_budget_s": 4,
        "ingest_executions": 100,
        "ingest_lines_per_exe": 10_000,
        "ingest_repeat": 3,
        "ingest_budget_s": 450,
        "ceiling_connections": (1, 2, 4, 8),
        "http_clients": 4,
        "read_sizes": (10_000, 100_000, 1_000_000, 10_000_000),
        "read_lines": 1_000_000,  # the ratio rounds
        "read_repeat": 3,
        "read_budget_s": 200,
        "filler_lines": 20_000_000,
        "scaling_page_repeat": 30,
        "scaling_page_budget_s": 4,
        "scaling_whole_sides": ("json", "raw", "ceiling"),
        "largest_whole_extra_sides": ("txt", "ndjson"),
        "largest_whole_repeat": 3,
        "page_repeat": 200,
        "page_budget_s": 30,
        "throughput_seconds": 12,
        "throughput_max_requests": 200_000,
        "throughput_repeat": 2,
        "workers_seconds": 6,
        "search_level": "b",  # the targets are judged over groups a+b (about 11 million lines)
        "search_repeat": 40,
        "search_budget_s": 20,
        # Issue 21 (bench/search2_bench.py): context on the largest log, aggregations, walk and regex over the
        # judged search level, the export of the common word in the log of export_log lines.
        "search2": {
            "context_lines": 50,
            "context_anchors": 1000,
            "context_budget_s": 60,
            "agg_repeat": 30,
            "agg_budget_s": 20,
            "walk_page_size": 1000,
            "walk_max_hits": 1_000_000,  # page 1,000
            "walk_page_group": 20,
            "walk_budget_s": 180,
            "export_log": 1_000_000,
            "export_repeat": 3,
            "export_budget_s": 60,
            "regex_repeat": 20,
            "regex_budget_s": 20,
        },
        "sizing_lines": 1_000_000,  # bench/sizing.py: the figures bench/capacity.py sizes a cluster from
        "sizing_sql_jobs": 5000,
        "budget_s": 3600,
    },
    "quick": {
        "job_sizes": (1_000, 10_000),
        "job_sqlite_sizes": (1_000, 10_000),
        "jobs": 10_000,
        "job_repeat": 15,
        "job_budget_s": 1.5,
        "job_scaling_repeat": 8,
        "job_scaling_budget_s": 1,
        "ingest_executions": 10,
        "ingest_lines_per_exe": 2_000,
        "ingest_repeat": 1,
        "ingest_budget_s": 0,
        "ceiling_connections": (1, 4),
        "http_clients": 2,
        "read_sizes": (1_000, 10_000, 30_000),
        "read_lines": 30_000,
        "read_repeat": 1,
        "read_budget_s": 0,
        "filler_lines": 100_000,
        "scaling_page_repeat": 8,
        "scaling_page_budget_s": 1,
        "scaling_whole_sides": ("json", "raw", "ceiling"),
        "largest_whole_extra_sides": ("txt", "ndjson"),
        "largest_whole_repeat": 3,
        "page_repeat": 30,
        "page_budget_s": 3,
        "throughput_seconds": 2,
        "throughput_max_requests": 20_000,
        "throughput_repeat": 1,
        "workers_seconds": 1.5,
        "search_level": "b",
        "search_repeat": 10,
        "search_budget_s": 2,
        "search2": {
            "context_lines": 50,
            "context_anchors": 200,
            "context_budget_s": 2,
            "agg_repeat": 10,
            "agg_budget_s": 2,
            "walk_page_size": 100,
            "walk_max_hits": 50_000,
            "walk_page_group": 10,  # a quick walk lasts a few dozen pages: first and deep groups apart
            "walk_budget_s": 3,
            "export_log": 10_000,
            "export_repeat": 1,
            "export_budget_s": 0,
            "regex_repeat": 10,
            "regex_budget_s": 2,
        },
        "sizing_lines": 50_000,
        "sizing_sql_jobs": 200,
        "budget_s": 180,
    },
}
TOKEN = "bench-admin-token-0123456789abcdef"
# Targets the issue sets at the largest sizes (10M jobs, a 10M-line log): judged only when that size was run.
AT_LARGEST = (
    "job_listing_postgresql_largest_p50_lt_40ms",
    "log_read_worker_peak_rss_lt_150mb_at_largest",
    "search2_context_p50_le_30ms",
    "search2_context_p99_le_100ms",
)


def capped(size: dict[str, Any], up_to: int) -> dict[str, Any]:
    """The sizes without the jobs and logs above up_to. Search keeps a level about ten times the largest log
    (the filler), and is judged there, since the level the full run judges (over the 10M-line log) is gone."""
    out = dict(size)
    for key in ("job_sizes", "job_sqlite_sizes", "read_sizes"):
        out[key] = tuple(n for n in size[key] if n <= up_to)
        if not out[key]:
            raise SystemExit(f"--up-to {up_to}: no {key} left (smallest {min(size[key])})")
    out["jobs"] = min(size["jobs"], up_to)
    out["read_lines"] = min(size["read_lines"], up_to)
    out["filler_lines"] = min(size["filler_lines"], 9 * max(out["read_sizes"]))
    out["search_level"] = "c"
    out["up_to"] = up_to
    return out


def api_env(work: Path, es_url: str, prefix: str, database_url: str, legacy: str = "") -> dict:
    """The environment of an API server: production settings, only the places changed."""
    return {
        "DATABASE_URL": database_url,
        "ELASTICSEARCH_URL": es_url,
        "LOG_INDEX_PREFIX": prefix,
        "LOG_LEGACY_INDICES": legacy,
        "API_TOKEN": TOKEN,
        "DATA_DIR": str(work / "data"),
        "SPOOL_DIR": str(work / f"spool-{prefix}"),
    }


def search_level(level) -> tuple[str, str, int]:
    """What the API reads for a search level (the first corpus groups): the indices searched, those of them it
    reads as legacy (every group after the first), and the lines they hold."""
    return (
        ",".join(g.pattern for g in level),
        ",".join(g.pattern for g in level[1:]),
        sum(g.lines for g in level),
    )


def logs_database(url: str, reads: int, executions: int) -> list[int]:
    """A small job database for the log measures, made anew: `reads` running executions whose logs are the read
    logs of the corpus (jobs and executions 1..reads, so their cluster ids are the corpus's scale_job_<i>x1),
    then `executions` for HTTP ingest (returned)."""
    from bench.data import manifest
    from bench.jobs_data import _wipe
    from core.times import utcnow
    from jobs.db import make_engine, upgrade
    from jobs.stores import Stores

    _wipe(make_engine(url))
    stores = Stores.open(url, utcnow)
    upgrade(stores.db.engine)
    job_type, _ = stores.job_types.save_job_type("bench-type-01:1", manifest("type-01", "1.0.0"))
    ids = []
    for k in range(reads + executions):
        job_id = stores.jobs.create_job(job_type.id, {"json": {"x": 1}})
        exe = stores.executions.start_execution(job_id, "node-01")
        if k < reads and (job_id, exe.id, exe.cluster_id) != (k + 1, k + 1, f"scale_job_{k + 1}x1"):
            raise RuntimeError(f"logs database: job {job_id}, execution {exe.id} {exe.cluster_id}; expected {k + 1}")
        ids.append(exe.id)
    stores.close()
    return ids[reads:]


# Issue 20's targets on the log_scaling curve (scaling_targets judges them).
PAGES = ("first_1000", "tail_100")
SCALING_TARGETS = (
    *(f"scaling_{page}_largest_p50_le_1.5x_at_100k" for page in PAGES),
    *(f"scaling_{page}_largest_p50_le_1.5x_bare_plus_5ms" for page in PAGES),
    "scaling_whole_read_largest_ge_0.8x_at_1m",
    "scaling_whole_read_ge_0.9x_bare_every_size",
)
# Every target of the issues (6, 14, 20 and 21), by the measure (and backend) that produces it.
TARGETS = {
    "ingest_shipper_ratio_ge_0.9": ("ingest", None),
    "ingest_shipper_ge_0.75x_ceiling": ("ingest", None),
    "ingest_shipper_pinned_ge_0.75x_pinned_ceiling": ("ingest", None),
    "ingest_http_ratio_ge_0.6": ("ingest", None),
    "log_read_json_ratio_ge_0.9": ("log_read", None),
    "log_read_json_ge_0.6x_ceiling": ("log_read", None),
    "log_read_txt_ratio_ge_0.8": ("log_read", None),
    "log_read_worker_peak_rss_lt_150mb_at_largest": ("log_scaling", None),
    "first_page_first_1000_p50_le_1.5x_raw_plus_5ms": ("first_page", None),
    "first_page_tail_100_p50_le_1.5x_raw_plus_5ms": ("first_page", None),
    "job_listing_sqlite_p50_le_2x_bare": ("job_listing", "sqlite"),
    "job_listing_postgresql_p50_le_2x_bare": ("job_listing", "postgresql"),
    "job_listing_postgresql_p50_lt_20ms": ("job_listing", "postgresql"),
    "job_listing_postgresql_largest_p50_lt_40ms": ("job_listing", "postgresql"),
    "search_rare_word_p50_le_1.25x_bare": ("search", None),
    "search_common_word_p50_le_1.25x_bare": ("search", None),
    "search_rare_word_above_api_floor_le_1.25x_bare": ("search", None),
    "search_common_word_above_api_floor_le_1.25x_bare": ("search", None),
    **dict.fromkeys(SCALING_TARGETS, ("log_scaling", None)),
    **dict.fromkeys(SEARCH2_TARGETS, ("search2", None)),
    **{
        f"throughput_{route}_{backend}_ge_0.8x_bare": ("throughput", backend)
        for backend in ("sqlite", "postgresql")
        for route in ("job_details", "job_list", "first_log_page")
    },
}


def _unmatched(node, where: str = "") -> list[str]:
    """Where a measure's result says one of its cross-checks did not match ("matched": false) or a part of it
    failed ("error")."""
    found = []
    if isinstance(node, dict):
        if node.get("matched") is False or "error" in node:  # a part of the measure (a backend) that failed
            found.append(where or "(measure)")
        for key, value in node.items():
            found += _unmatched(value, f"{where}.{key}" if where else key)
    return found


def _not_measured(m: dict, measure: str, backend: str | None) -> str | None:
    """Why a requested measure (or its backend) has no figures: its error or skip, or None when it has them."""
    fig = m.get(measure)
    if fig is None:
        return "not run"
    if backend is not None:
        fig = fig.get(backend) if isinstance(fig, dict) else None
        if fig is None:
            return "not run"
    if isinstance(fig, dict) and ("error" in fig or "skipped" in fig):
        return f"error: {fig['error']}" if "error" in fig else f"skipped: {fig['skipped']}"
    return None


def scaling_targets(sizes: dict) -> dict:
    """Issue 20's targets on the log_scaling curve: a page costs the same at the largest log as at 100k lines
    (the smallest size when 100k was not run) and stays within 1.5x bare + 5 ms there; a whole read per line at the
    largest is at least 0.8x its speed at 1M (the size below the largest when 1M was not run, or is the largest)
    and at least 0.9x bare at every size. Judged only when the curve has at least two sizes."""
    if len(sizes) < 2:
        return {}
    ns = sorted(int(n) for n in sizes)
    top, flat_ref = sizes[str(ns[-1])], sizes[str(100_000 if 100_000 in ns else ns[0])]
    read_ref = sizes[str(1_000_000 if 1_000_000 in ns[:-1] else ns[-2])]
    t: dict = {}
    for page in PAGES:
        ours, ref = top[page]["ours"]["p50_ms"], flat_ref[page]["ours"]["p50_ms"]
        t[f"scaling_{page}_largest_p50_le_1.5x_at_100k"] = {
            "met": ours <= 1.5 * ref,
            "largest_p50_ms": ours,
            "reference_p50_ms": ref,
            "lines": [ns[-1], flat_ref["lines"]],
        }
        bare = top[page]["raw"]["p50_ms"]
        t[f"scaling_{page}_largest_p50_le_1.5x_bare_plus_5ms"] = {
            "met": ours <= 1.5 * bare + 5,
            "ours_p50_ms": ours,
            "limit_ms": round(1.5 * bare + 5, 2),
        }
    top_rate, ref_rate = top["whole"]["json_lines_per_s"], read_ref["whole"]["json_lines_per_s"]
    t["scaling_whole_read_largest_ge_0.8x_at_1m"] = {
        "met": top_rate >= 0.8 * ref_rate,
        "ratio": round(top_rate / ref_rate, 3),
        "lines": [ns[-1], read_ref["lines"]],
    }
    ratios = {str(n): sizes[str(n)]["whole"]["json"]["ratio"] for n in ns}
    t["scaling_whole_read_ge_0.9x_bare_every_size"] = {
        "met": all(r is not None and r >= 0.9 for r in ratios.values()),
        "ratios": ratios,
    }
    return t


def targets(m: dict, requested: list[str]) -> dict:
    """Each target of the issue whose measure was requested: met or missed, with the figures it was judged on.

    A target whose measure errored, was skipped (no PostgreSQL, say) or did not run is missed (met: false, with
    "not_measured" saying why): it never just disappears. So is "<measure>_matched_raw", one per requested
    measure, when the measure failed or one of its ours-against-raw cross-checks did not match.
    """
    t: dict = {}

    def ok(name, met, **figures):
        t[name] = {"met": bool(met), **figures}

    for measure in requested:
        why = _not_measured(m, measure, None)
        unmatched = [] if why else _unmatched(m[measure])
        ok(
            f"{measure}_matched_raw",
            not why and not unmatched,
            **({"not_measured": why} if why else {}),
            **({"unmatched": unmatched} if unmatched else {}),
        )

    ing = m.get("ingest", {})
    if "ratio" in ing:
        ok("ingest_shipper_ratio_ge_0.9", ing["ratio"] >= 0.9, ratio=ing["ratio"], raw_streams=ing["raw_streams"])
    if ing.get("ceiling_ratio") is not None:
        ok(
            "ingest_shipper_ge_0.75x_ceiling",
            ing["ceiling_ratio"] >= 0.75,
            ratio=ing["ceiling_ratio"],
            ceiling_connections=ing["ceiling"]["connections"],
        )
    pinned = ing.get("pinned", {})
    if pinned.get("ceiling_ratio") is not None:  # issue 20: the node and the shipper on a core each
        ok(
            "ingest_shipper_pinned_ge_0.75x_pinned_ceiling",
            pinned["ceiling_ratio"] >= 0.75,
            ratio=pinned["ceiling_ratio"],
            shipper_cpu_us_per_line=pinned["shipper_cpu_us_per_line"],
        )
    if "http" in ing:
        ok(
            "ingest_http_ratio_ge_0.6",
            ing["http"]["ratio"] >= 0.6,
            ratio=ing["http"]["ratio"],
            raw_streams=ing["http"]["raw_streams"],
        )
    rd = m.get("log_read", {})
    if "json" in rd:
        ok("log_read_json_ratio_ge_0.9", rd["json"]["ratio"] >= 0.9, ratio=rd["json"]["ratio"], lines=rd["lines"])
        ok(
            "log_read_json_ge_0.6x_ceiling",
            rd["json"]["ceiling_ratio"] >= 0.6,
            ratio=rd["json"]["ceiling_ratio"],
            lines=rd["lines"],
        )
        ok("log_read_txt_ratio_ge_0.8", rd["txt"]["ratio"] >= 0.8, ratio=rd["txt"]["ratio"])
    largest = m.get("log_scaling", {}).get("largest_read", {})
    if "worker_peak_rss_mb" in largest:
        ok(
            "log_read_worker_peak_rss_lt_150mb_at_largest",
            largest["worker_peak_rss_mb"] < 150,
            peak_rss_mb=largest["worker_peak_rss_mb"],
            at_rest_mb=largest["worker_rss_at_rest_mb"],
            lines=largest["lines"],
        )
    for name, fig in m.get("first_page", {}).items():
        if isinstance(fig, dict) and "met" in fig:
            ok(
                f"first_page_{name}_p50_le_1.5x_raw_plus_5ms",
                fig["met"],
                ours_p50_ms=fig["ours"]["p50_ms"],
                limit_ms=fig["target_p50_ms"],
            )
    for backend, fig in m.get("job_listing", {}).items():
        if not isinstance(fig, dict) or "requests" not in fig:
            continue
        ok(
            f"job_listing_{backend}_p50_le_2x_bare",
            fig["worst_ratio_p50"] <= 2,
            ratios={k: v["ratio_p50"] for k, v in fig["requests"].items()},
            jobs=fig["jobs"],
        )
        if backend == "postgresql":
            ok(
                "job_listing_postgresql_p50_lt_20ms",
                fig["worst_ours_p50_ms"] < 20,
                p50_ms={k: v["ours"]["p50_ms"] for k, v in fig["requests"].items()},
                jobs=fig["jobs"],
            )
            big = fig.get("largest", {})
            if "requests" in big:
                ok(
                    "job_listing_postgresql_largest_p50_lt_40ms",
                    big["worst_ours_p50_ms"] < 40,
                    p50_ms={k: v["ours"]["p50_ms"] for k, v in big["requests"].items()},
                    jobs=big["jobs"],
                )
    judged = m.get("search", {}).get("judged", {})
    for word in ("rare_word", "common_word"):
        if word in judged:
            ok(
                f"search_{word.split('_')[0]}_word_p50_le_1.25x_bare",
                judged[word]["ratio_p50"] <= 1.25,
                ratio=judged[word]["ratio_p50"],
                lines=judged["indexed_lines"],
            )
            above = judged[word].get("ratio_p50_above_floor")
            if above is not None:  # issue 20: what our search costs beyond being an HTTP service at all
                ok(
                    f"search_{word.split('_')[0]}_word_above_api_floor_le_1.25x_bare",
                    above <= 1.25,
                    ratio=above,
                    lines=judged["indexed_lines"],
                )
    t.update(scaling_targets(m.get("log_scaling", {}).get("sizes", {})))
    t.update(search2_targets(m.get("search2", {})))
    for backend, fig in m.get("throughput", {}).items():
        if not isinstance(fig, dict):
            continue
        for route in ("job_details", "job_list", "first_log_page"):
            if isinstance(fig.get(route), dict) and fig[route].get("ratio") is not None:
                ok(f"throughput_{route}_{backend}_ge_0.8x_bare", fig[route]["ratio"] >= 0.8, ratio=fig[route]["ratio"])
    for name, (measure, backend) in TARGETS.items():
        if measure in requested and name not in t:
            t[name] = {"met": False, "not_measured": _not_measured(m, measure, backend) or "no figures"}
    return t


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under three minutes")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(MEASURES)}")
    parser.add_argument("--profile", action="store_true", help="py-spy the API workers during each measure")
    parser.add_argument(
        "--up-to",
        type=int,
        help="leave out the job and log sizes above N (when the full sizes do not fit the time or the disk); "
        "targets set at a size left out are then reported missed, 'not measured'",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    size = SIZES[mode] if args.up_to is None else capped(SIZES[mode], args.up_to)
    only = [m for m in args.only.split(",") if m] or list(MEASURES)
    unknown = set(only) - set(MEASURES)
    if unknown:
        parser.error(f"unknown measures: {sorted(unknown)}")
    began = time.monotonic()
    run_id = "bench" + uuid.uuid4().hex[:6]
    work = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    (work / "data").mkdir()
    cache = ROOT / "data" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    result: dict = {"mode": mode, "machine": machine(), "sizes": size, "measures": {}, "data_building": {}}
    m = result["measures"]
    building = result["data_building"]  # setup time, outside the measures' budget
    if args.profile:
        from bench import profiling

        profiling.enable(ROOT / "data" / "bench" / "profiles")  # raw stacks; summaries go into the JSON

    def attempt(name: str, fn) -> None:
        if name not in only:
            return
        log(f"--- {name}")
        t0 = time.monotonic()
        try:
            m[name] = fn()
        except Exception as exc:  # one broken measure must not hide the others
            traceback.print_exc()
            m[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        if isinstance(m[name], dict):
            m[name]["measure_seconds"] = round(time.monotonic() - t0, 1)

    with ExitStack() as stack:
        # The bench's own node keeps its data (the corpus) in data/bench/elasticsearch between runs.
        es_url = stack.enter_context(elasticsearch(cache / "elasticsearch"))
        es = es_client(es_url)
        info = es.info()
        result["elasticsearch"] = {
            "version": info["version"]["number"],
            "lucene": info["version"].get("lucene_version"),
            "node": "ELASTICSEARCH_URL"
            if os.environ.get("ELASTICSEARCH_URL")
            else f"scripts/elasticsearch, heap {os.environ.get('ES_HEAP', '4g')}",
        }
        pg_server = stack.enter_context(postgres_server())
        stack.callback(lambda: _drop_indices(es, run_id))

        # --- job listing at every size: SQLite, then PostgreSQL ------------------------------------------
        def job_listing() -> dict:
            from bench import job_listing as jl
            from bench.jobs_data import build

            backends: dict[str, list[tuple[int, str]]] = {
                "sqlite": [(n, f"sqlite:///{cache / f'jobs-{n}.db'}") for n in size["job_sqlite_sizes"]]
            }
            out: dict = {}
            if pg_server:
                backends["postgresql"] = [(n, bench_database(pg_server, f"scale_bench_{n}")) for n in size["job_sizes"]]
            else:
                out["postgresql"] = {"skipped": "no PostgreSQL (set DATABASE_URL or install postgresql)"}
            for backend, dbs in backends.items():
                for n, url in dbs:  # built (or found) before anything is timed
                    t0 = time.monotonic()
                    built = build(url, n)
                    building[f"jobs_{backend}_{n}"] = {**built, "seconds": round(time.monotonic() - t0, 1)}
            for backend, dbs in backends.items():
                try:
                    scaling: dict = {}
                    for n, url in dbs:
                        env = api_env(work, es_url, f"{run_id}-jobs", url)
                        judged = n in (size["jobs"], dbs[-1][0])
                        fig = jl.measure(
                            url,
                            n,
                            env,
                            size["job_repeat"] if judged else size["job_scaling_repeat"],
                            size["job_budget_s"] if judged else size["job_scaling_budget_s"],
                            work,
                        )
                        scaling[str(n)] = fig
                    fig = dict(scaling[str(size["jobs"])])
                    fig["largest"] = scaling[str(dbs[-1][0])]
                    fig["scaling"] = {
                        k: {
                            r: {"ours_p50_ms": v["ours"]["p50_ms"], "raw_p50_ms": v["raw"]["p50_ms"]}
                            for r, v in f["requests"].items()
                        }
                        for k, f in scaling.items()
                    }
                    if backend == "postgresql":
                        fig["server"] = (
                            "DATABASE_URL"
                            if os.environ.get("DATABASE_URL", "").startswith("postgresql")
                            else "scripts/postgres"
                        )
                    out[backend] = fig
                except Exception as exc:
                    traceback.print_exc()
                    out[backend] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            return out

        attempt("job_listing", job_listing)

        # --- the log measures: the corpus, and a small job database naming its read logs ---------------------
        from bench import corpus as corpus_

        # Each layout under a name of its own: a quick or capped run must not rewrite the full corpus (~30 minutes).
        corpus_name = {"quick": "q"}.get(mode, "") + (f"u{args.up_to}" if args.up_to is not None else "")
        corpus = corpus_.layout(tuple(size["read_sizes"]), size["filler_lines"], corpus_name)
        if set(only) - {"job_listing"}:
            t0 = time.monotonic()
            building["log_corpus"] = {**corpus_.ensure(es, corpus), "seconds": round(time.monotonic() - t0, 1)}
        a, b = corpus.group("a"), corpus.group("b")
        read_legacy = b.pattern  # reads: groups a (the API's own prefix) and b
        read_index = f"{a.pattern},{b.pattern}"
        logs_db = f"sqlite:///{work / 'logs.db'}"
        ingest_exes = logs_database(logs_db, len(corpus.read_sizes), size["ingest_executions"])

        def read_api(workers: int = 2, url: str = logs_db) -> Gunicorn:
            return Gunicorn(api_env(work, es_url, a.prefix, url, read_legacy), workers=workers, log_dir=work)

        # --- 1. ingest (ours, bare streaming_bulk, HTTP, the node's ceiling) --------------------------------
        def ingest() -> dict:
            from bench import ingest_bench

            prefix = f"{run_id}-http"
            with Gunicorn(api_env(work, es_url, prefix, logs_db), workers=2, log_dir=work) as api:
                http = {
                    "api_url": api.url,
                    "prefix": prefix,
                    "exe_ids": ingest_exes,
                    "clients": size["http_clients"],
                    "token": TOKEN,
                }
                with _profiled(args.profile, "ingest", api, also_self=True):
                    return ingest_bench.measure(
                        es,
                        run_id,
                        size["ingest_executions"],
                        size["ingest_lines_per_exe"],
                        size["ingest_repeat"],
                        work,
                        http,
                        size["ingest_budget_s"],
                        es_url=es_url,
                        ceiling_connections=tuple(size["ceiling_connections"]),
                    )

        attempt("ingest", ingest)

        # --- 2. whole log read (ratios), 3. first page ------------------------------------------------------
        target_lines = size["read_lines"]

        def log_read() -> dict:
            from bench import log_bench

            with read_api() as api, _profiled(args.profile, "log_read", api):
                return log_bench.measure_read(
                    es,
                    es_url,
                    api,
                    read_index,
                    corpus.read_job(target_lines),
                    corpus.cluster_id(target_lines),
                    target_lines,
                    size["read_repeat"],
                    size["read_budget_s"],
                )

        attempt("log_read", log_read)

        def first_page() -> dict:
            from bench import log_bench

            with read_api() as api, _profiled(args.profile, "first_page", api):
                out = log_bench.measure_first_page(
                    es,
                    api,
                    read_index,
                    corpus.read_job(target_lines),
                    corpus.cluster_id(target_lines),
                    size["page_repeat"],
                    size["page_budget_s"],
                )
            out["log_lines"] = target_lines
            return out

        attempt("first_page", first_page)

        # --- scaling of the log reads: first page, tail and whole read at every size; RSS at the largest -----
        def log_scaling() -> dict:
            from bench import log_bench

            out: dict = {"sizes": {}}
            with read_api() as api:
                for n in corpus.read_sizes[:-1]:
                    out["sizes"][str(n)] = log_bench.measure_scaling_point(
                        es, es_url, api, read_index, corpus.read_job(n), corpus.cluster_id(n), n, size
                    )
            n = corpus.read_sizes[-1]
            with read_api() as api:  # a fresh server: its workers' RSS at rest, then the peak of the largest read
                out["sizes"][str(n)] = point = log_bench.measure_scaling_point(
                    es, es_url, api, read_index, corpus.read_job(n), corpus.cluster_id(n), n, size, largest=True
                )
            out["largest_read"] = {
                "lines": n,
                "worker_rss_at_rest_mb": point["whole"]["worker_rss_at_rest_mb"],
                # The highest of every side's peak (json, txt, ndjson and the bare ones): the target bounds all.
                "worker_peak_rss_mb": point["whole"]["worker_peak_rss_mb"],
                "worker_peak_rss_mb_by_side": point["whole"]["worker_peak_rss_mb_by_side"],
                "worker_peak_rss_sampled_mb": point["whole"]["worker_peak_rss_sampled_mb"],
            }
            return out

        attempt("log_scaling", log_scaling)

        # --- 5. throughput, on SQLite and PostgreSQL ---------------------------------------------------------
        target_exe = corpus.read_job(target_lines)

        def throughput_targets(job_ids: list[int]) -> dict:
            return {
                "job_details": [f"/v6/jobs/{i}/" for i in job_ids],
                "job_list": ["/v6/jobs/?page_size=100"],
                "first_log_page": [f"/v6/job-executions/{target_exe}/logs/combined/?limit=1000"],
            }

        def throughput() -> dict:
            from bench import throughput as tp

            out: dict = {
                # What the ratio can tell (audit 2, M2): the bare app runs our stores, LogSearch, serializers and
                # JSON writer, so a slow one of those slows both sides alike.
                "raw_measures": "framework overhead only (Falcon, middleware, parsing): bench/bare_app.py does "
                "our routes' work with our own stores and serializers",
                "plain_measures": "our whole stack: bench/plain_app.py replays the same SQL statements and "
                "Elasticsearch requests with the bare drivers and json.dumps, none of our code (ratio_to_plain)",
            }
            urls = {"sqlite": logs_db}
            if pg_server:
                urls["postgresql"] = bench_database(pg_server, "scale_bench_logs")
                logs_database(urls["postgresql"], len(corpus.read_sizes), size["ingest_executions"])
            else:
                out["postgresql"] = {"skipped": "no PostgreSQL (set DATABASE_URL or install postgresql)"}
            job_ids = list(range(1, len(corpus.read_sizes) + size["ingest_executions"] + 1))
            for backend, url in urls.items():
                try:
                    env = api_env(work, es_url, a.prefix, url, read_legacy)
                    paths = {k: (v, v) for k, v in throughput_targets(job_ids).items()}
                    path_file = work / f"plain-paths-{backend}.txt"
                    path_file.write_text("\n".join(p for ours, _ in paths.values() for p in ours))
                    with (
                        Gunicorn(env, workers=4, log_dir=work) as api,
                        Gunicorn(env, workers=4, app="bench.bare_app:app", log_dir=work) as bare,
                        Gunicorn(
                            {**env, "PLAIN_APP_PATHS": str(path_file)},
                            workers=4,
                            app="bench.plain_app:app",
                            log_dir=work,
                        ) as plain,
                        _profiled(args.profile, f"throughput_{backend}", api),
                    ):
                        out[backend] = tp.measure(
                            api.url,
                            bare.url,
                            paths,
                            size["throughput_seconds"],
                            size["throughput_max_requests"],
                            size["throughput_repeat"],
                            (2, 8),
                            plain.url,
                        )
                        out[backend]["gunicorn_workers"] = 4
                except Exception as exc:
                    traceback.print_exc()
                    out[backend] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            return out

        attempt("throughput", throughput)

        # --- workers: WORKERS = 1, 2, 4 (SQLite) -----------------------------------------------------------
        def workers() -> dict:
            from bench import throughput as tp

            out: dict = {}
            job_ids = list(range(1, len(corpus.read_sizes) + size["ingest_executions"] + 1))
            env = api_env(work, es_url, a.prefix, logs_db, read_legacy)
            for count in (1, 2, 4):
                with (
                    Gunicorn(env, workers=count, log_dir=work) as api,
                    Gunicorn(env, workers=count, app="bench.bare_app:app", log_dir=work) as bare,
                ):
                    at_rest = [rss_mb(p, "VmRSS") for p in api.worker_pids()]
                    paths = {k: (v, v) for k, v in throughput_targets(job_ids).items()}
                    fig = tp.measure(
                        api.url, bare.url, paths, size["workers_seconds"], size["throughput_max_requests"], 1, (2, 8)
                    )
                    out[str(count)] = {
                        route: {
                            k: fig[route][k]
                            for k in ("ours_requests_per_s", "raw_requests_per_s", "ratio", "cross_check")
                        }
                        for route in paths
                    }
                    out[str(count)]["worker_rss_at_rest_mb"] = max(at_rest)
                    out[str(count)]["worker_rss_after_mb"] = max(rss_mb(p, "VmRSS") for p in api.worker_pids())
            return out

        attempt("workers", workers)

        # --- 6. search over a, a+b, a+b+c ---------------------------------------------------------------------
        def search() -> dict:
            from bench.log_bench import measure_search

            out: dict = {"levels": {}}
            groups = list(corpus.groups)
            for k in range(1, len(groups) + 1):
                level = groups[:k]
                index, legacy, indexed = search_level(level)
                env = api_env(work, es_url, a.prefix, logs_db, legacy)
                with Gunicorn(env, workers=2, log_dir=work) as api, _profiled(args.profile, f"search_{k}", api):
                    fig = measure_search(es, api, index, indexed, size["search_repeat"], size["search_budget_s"])
                fig["groups"] = [g.name for g in level]
                out["levels"][str(indexed)] = fig
                if level[-1].name == size["search_level"]:
                    out["judged"] = fig
            return out

        attempt("search", search)

        # --- Search II (issue 21): context, histogram and facets, cursor walk, export, regex -------------------
        def search2() -> dict:
            names = [g.name for g in corpus.groups]
            level = corpus.groups[: names.index(size["search_level"]) + 1]  # it holds a and b: every read log
            index, legacy, indexed = search_level(level)
            env = api_env(work, es_url, a.prefix, logs_db, legacy)
            exported = max(
                (n for n in corpus.read_sizes if n <= size["search2"]["export_log"]), default=min(corpus.read_sizes)
            )
            largest, export_log = (
                search2_bench.Log(corpus.read_job(n), corpus.cluster_id(n), n)
                for n in (corpus.read_sizes[-1], exported)
            )
            with Gunicorn(env, workers=2, log_dir=work) as api, _profiled(args.profile, "search2", api):
                return search2_bench.measure(es, api, index, indexed, largest, export_log, size["search2"])

        attempt("search2", search2)

        # --- the figures a sizing needs (issue 28), on their own indices and databases -----------------------
        def sizing() -> dict:
            from bench import sizing as sizing_

            return sizing_.measure(
                es, es_url, work, size["sizing_lines"], sql_jobs=size["sizing_sql_jobs"], pg_server=pg_server
            )

        attempt("sizing", sizing)

    if args.profile:
        from bench import profiling

        result["profiles"] = profiling.SUMMARIES
    result["targets"] = targets(m, only)
    if args.up_to is not None and args.up_to < 10_000_000:
        for name in AT_LARGEST:
            if name in result["targets"]:
                result["targets"][name] = {
                    **result["targets"][name],
                    "met": False,
                    "not_measured": f"set for 10M; sizes capped at {args.up_to:,} (--up-to)",
                }
    result["build_seconds"] = round(sum(v.get("seconds", 0) for v in building.values()), 1)
    result["duration_s"] = round(time.monotonic() - began, 1)
    result["measuring_seconds"] = round(result["duration_s"] - result["build_seconds"], 1)
    if set(only) == set(MEASURES):
        result["targets"]["measuring_within_budget"] = {
            "met": result["measuring_seconds"] < size["budget_s"],
            "measuring_seconds": result["measuring_seconds"],
            "budget_s": size["budget_s"],
        }
    result["targets_missed"] = [k for k, v in result["targets"].items() if not v["met"]]
    # What makes the run fail: a measure that errored, was skipped or did not match raw (any mode), and in a
    # full run also a target missed on its figures.
    result["not_measured_or_unmatched"] = [
        k
        for k, v in result["targets"].items()
        if not v["met"] and ("not_measured" in v or k.endswith("_matched_raw") or "unmatched" in v)
    ]
    failing = result["not_measured_or_unmatched"] if mode == "quick" else result["targets_missed"]
    result["exit_status"] = 1 if failing else 0
    if mode == "quick":
        result["targets_note"] = (
            "the targets are set for the issue's sizes (make bench); at quick sizes fixed "
            "per-request costs outweigh the tiny raw figures, so misses on figures here are "
            "expected and do not fail the run; a measure not measured or not matching raw does"
        )
    result["machine"]["load_avg_at_end"] = list(os.getloadavg())
    text = json.dumps(result, indent=2)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    # latest-<mode>.json and the scaling picture are what the README draws on: only a run of every measure at
    # every size replaces them (a run with --only or --up-to wrote over the committed full run before).
    if set(only) == set(MEASURES) and args.up_to is None:
        (out.parent / f"latest-{mode}.json").write_text(text + "\n")
        try:
            from bench import plot

            plot.draw(result, out.parent / ("scaling.png" if mode == "full" else "scaling-quick.png"))
        except Exception:
            traceback.print_exc()
    if "per_core" in m.get("sizing", {}):
        from bench import capacity

        # The table in bench/README.md comes from a full run only; a quick run's is printed.
        table = capacity.markdown(capacity.Figures.of(result), capacity.Assumptions(), capacity.shown(out.resolve()))
        if mode == "full" and args.up_to is None:
            capacity.write_readme(table)
        log(table)
    print(text)
    shutil.rmtree(work, ignore_errors=True)
    if failing:
        log(f"FAILED: {', '.join(failing)}")
    return result["exit_status"]


def _patient(call, tries: int = 20):
    """Retry while Elasticsearch sheds load (429: a circuit breaker, right after heavy indexing)."""
    from elasticsearch import ApiError

    for attempt in range(tries):
        try:
            return call()
        except ApiError as exc:
            if exc.meta.status != 429 or attempt == tries - 1:
                raise
            time.sleep(3)


def _drop_indices(es, run_id: str) -> None:
    try:
        names = list(es.indices.get(index=f"{run_id}-*", ignore_unavailable=True, allow_no_indices=True))
        if names:
            es.indices.delete(index=",".join(names))
        for t in es.indices.get_index_template(name=f"{run_id}-*").get("index_templates", []):
            es.indices.delete_index_template(name=t["name"])
    except Exception as exc:
        log(f"cleanup: {exc}")


def _profiled(enabled: bool, name: str, api: Gunicorn, also_self: bool = False):
    from contextlib import nullcontext

    if not enabled:
        return nullcontext()
    from bench import profiling

    return profiling.record(name, api.worker_pids() + ([os.getpid()] if also_self else []))


if __name__ == "__main__":
    sys.exit(main())
