"""`python -m bench.facets_bench [--executions N] [--lines L]`: facets with the SQL join beside the bare aggregation.

Issue 21's target: facets with the SQL join p50 ≤ 150 ms when ≤ 10,000 executions match. Builds N executions in a
throwaway SQLite database (a third FAILED with an error of category DATA, a third COMPLETED, a third RUNNING) and
L lines each in our template's indices, half of them matching "boom", then times, taking turns:
- bare: the Elasticsearch request of the facets (the same composite aggregations of the four document fields and
  of the executions), without the join;
- facets: search.facets (that request, then the executions' job facts in chunked IN queries, summed per value);
- sql_join: the join alone (the matching executions' job facts from SQLite);
- status_filter: resolving status=FAILED to its executions and counting the search restricted to them.
Starts its own Elasticsearch (ES_HEAP, default here 512m; or ELASTICSEARCH_URL) and writes the JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import ExitStack, closing
from dataclasses import replace
from pathlib import Path

from elasticsearch import helpers

from bench.data import iso_ns, manifest
from bench.harness import ROOT, elasticsearch, es_client, log, machine
from bench.stats import interleaved_latencies, paired_ratio, summary_ms
from core.times import utcnow
from jobs.db import make_engine, upgrade
from jobs.stores import Stores
from search import LogSearch
from search.facets import DOCUMENT_FIELDS, EXECUTION_FIELD, EXECUTIONS_PAGE, FIELDS, VALUES_PAGE, composite
from search.finder import Filters, search_query
from search.reads import FollowTiming

PREFIX = "benchfacets"
BASE_NS = 1_700_000_000 * 1_000_000_000


def build_sql(url: str, executions: int) -> list[str]:
    """N executions of one job type; returns their cluster ids."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    stores = Stores.open(url, utcnow)
    try:
        job_type, _ = stores.job_types.save_job_type("bench:1", manifest("facets-bench", "1.0.0"))
        ids = []
        for i in range(executions):
            exe = stores.executions.start_execution(stores.jobs.create_job(job_type.id, {}), f"node-{i % 7}")
            if i % 3 == 0:
                stores.executions.finish_execution(exe.id, "FAILED", error={"title": "Bad input", "category": "DATA"})
            elif i % 3 == 1:
                stores.executions.finish_execution(exe.id, "COMPLETED")
            ids.append(exe.cluster_id)
        return ids
    finally:
        stores.close()


def build_lines(es, cluster_ids: list[str], lines: int) -> int:
    from ingest.template import ensure_template

    ensure_template(es, PREFIX)
    index = f"{PREFIX}-2023.11.14"

    def actions():
        for n, cid in enumerate(cluster_ids):
            for k in range(lines):
                yield {
                    "_op_type": "create",
                    "_index": index,
                    "_id": f"{cid}#{k + 1}",
                    "_source": {
                        "@timestamp": iso_ns(BASE_NS + n * 1_000_000 + k),
                        "scale_order_num": k + 1,
                        "stream": "stderr" if k % 4 == 0 else "stdout",
                        "message": f"boom at step {k}" if k % 2 else f"all fine {k}",
                        "scale_job_exe": cid,
                        "scale_node": f"node-{n % 7}",
                        "host": f"node-{n % 7}",
                        "scale_job_type": "facets-bench",
                        "scale_job_version": f"1.{n % 3}",
                    },
                }

    helpers.bulk(es.options(request_timeout=300), actions(), chunk_size=5000, refresh=True)
    return len(cluster_ids) * lines


def bare_composites(es, index: str, query: dict, aggs: dict) -> tuple[int, dict[str, dict[tuple, int]]]:
    """The composite aggregations of `aggs` paged to their end with the bare client, one request a round for all
    those not done, the total counted on the first (as search.facets does): (the exact total, each aggregation's
    doc counts by bucket key)."""
    after: dict = {}
    buckets: dict[str, dict[tuple, int]] = {name: {} for name in aggs}
    pending, total = dict(aggs), None
    while pending:
        body = {
            name: ({"composite": {**a["composite"], "after": after[name]}} if name in after else a)
            for name, a in pending.items()
        }
        resp = es.search(index=index, query=query, size=0, track_total_hits=total is None, aggs=body).body
        total = resp["hits"]["total"]["value"] if total is None else total
        following = {}
        for name, a in pending.items():
            result = resp["aggregations"][name]
            buckets[name].update((tuple(b["key"].values()), b["doc_count"]) for b in result["buckets"])
            if len(result["buckets"]) == a["composite"]["size"] and "after_key" in result:
                after[name] = result["after_key"]
                following[name] = a
        pending = following
    return total or 0, buckets


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=2_000)
    parser.add_argument("--lines", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "facets-small.json"))
    args = parser.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="facets-bench-")))
        os.environ.setdefault("ES_HEAP", "512m")
        es = es_client(stack.enter_context(elasticsearch(tmp / "es")))
        url = f"sqlite:///{tmp / 'jobs.db'}"
        began = time.monotonic()
        cluster_ids = build_sql(url, args.executions)
        indexed = build_lines(es, cluster_ids, args.lines)
        log(f"built {len(cluster_ids)} executions, {indexed} lines in {time.monotonic() - began:.0f}s")
        stores = stack.enter_context(closing(Stores.open(url, utcnow)))
        search = LogSearch(es, (f"{PREFIX}-*",), FollowTiming())
        index = f"{PREFIX}-*"
        f = Filters(text="boom")
        aggs = {x: composite(DOCUMENT_FIELDS[x], VALUES_PAGE) for x in DOCUMENT_FIELDS}
        aggs["exe"] = composite((EXECUTION_FIELD,), EXECUTIONS_PAGE)

        def bare() -> None:
            bare_composites(es, index, search_query(f), aggs)

        total, facets = search.facets(f, list(FIELDS), 10, stores.log_targets)
        failed = search.resolve(replace(f, statuses=["FAILED"]), stores.log_targets)
        failed_total = search.search(failed, 0, 1)[0]
        assert failed_total == {v["value"]: v["count"] for v in facets["status"]}["FAILED"]
        timings = interleaved_latencies(
            {
                "bare": bare,
                "facets": lambda: search.facets(f, list(FIELDS), 10, stores.log_targets),
                "sql_join": lambda: stores.log_targets.job_facts(cluster_ids),
                "status_filter": lambda: search.search(
                    search.resolve(replace(f, statuses=["FAILED"]), stores.log_targets), 0, 1
                ),
            },
            repeat=args.repeat,
            budget_s=120,
        )
    result = {
        "measure": "facets",
        "machine": machine(),
        "executions": args.executions,
        "lines": indexed,
        "matching_lines": total,
        "executions_matching": args.executions,
        "bare": summary_ms(timings["bare"]),
        "facets": summary_ms(timings["facets"]),
        "sql_join": summary_ms(timings["sql_join"]),
        "status_filter": summary_ms(timings["status_filter"]),
        "ratio_facets_to_bare": paired_ratio(timings["facets"], timings["bare"]),
        "status_facet": facets["status"],
    }
    text = json.dumps(result, indent=2)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
