"""`python -m bench.mapping_cost [--lines N] [--rounds R]`: what the regex sub-field (`message.keyword`) costs.

Issue 21's budget: the index at most 25% larger and ingest at most 10% slower than without it. Writes the same
N lines (bench.data.Lines: mean ~170 bytes, 1% of 1,000-4,000, or with --corpus unique
every line its own ~100 bytes, the terms dictionary's worst case) into one index per mapping variant, R rounds, the
variants' order rotated each round so a busy machine weighs on all alike. Each variant is the template of
mappings/logs-template.json with its `message` mapping (and index settings) replaced. Measured per variant:
- ingest: seconds of the `_bulk` requests (one pre-serialized body of 5,000 lines at a time, the same bytes for
  every variant) plus the final refresh, the median over rounds, and its ratio to the variant without sub-field;
- size: store bytes after a force-merge to one segment (the first round's index), the sub-field's own bytes
  (`_disk_usage`), and the ratio to the variant without sub-field;
- regex: a few patterns' hit counts through search.patterns.regex_query beside a Python scan of the same lines
  (equal wherever the sub-field holds every line), and the median `took` of 5 runs;
- fetch: the median `took` of reading 10,000 lines' `_source` in time order (what a codec change costs reads).
Starts its own Elasticsearch (ES_HEAP, default here 512m; or ELASTICSEARCH_URL); writes the JSON to --out.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.data import BASE_NS, COMMON_WORD, Lines, iso_ns, message_pool
from bench.harness import ROOT, elasticsearch, es_client, log, machine
from ingest.template import LogTemplate
from search.patterns import regex_query

BODY_LINES = 5_000
PATTERNS = ["INFO \\[.*", f".*{COMMON_WORD} [0-9]+ .*", ".*n=1[0-9]7", ".*qu[a-z]* [0-9]{4} .*"]


def text(**options) -> dict:
    return {"type": "text", **options}


SUB_FIELD = {"keyword": {"type": "keyword", "ignore_above": 8191, "doc_values": False}}
VARIANTS: dict[str, tuple[dict, dict]] = {  # name: (message mapping, extra index settings)
    "none": (text(), {}),
    "v2 (ignore_above 8191, no doc values)": (text(fields=SUB_FIELD), {}),
    "v2 + index_options docs, norms false": (
        text(fields={"keyword": {**SUB_FIELD["keyword"], "index_options": "docs", "norms": False}}),
        {},
    ),
    "v2 with ignore_above 1024": (text(fields={"keyword": {**SUB_FIELD["keyword"], "ignore_above": 1024}}), {}),
    "v2 + message norms false": (text(fields=SUB_FIELD, norms=False), {}),
    "v2 + best_compression": (text(fields=SUB_FIELD), {"codec": "best_compression"}),
    "v2 + best_compression + message norms false": (
        text(fields=SUB_FIELD, norms=False),
        {"codec": "best_compression"},
    ),
    "none + best_compression": (text(), {"codec": "best_compression"}),
}


class UniqueLines:
    """The worst case for a terms dictionary: every line its own words (~100 bytes), so no two share a prefix
    beyond a word or two (what the first measure of the sub-field used)."""

    def __init__(self) -> None:
        self.words = sorted({w for m in message_pool() for w in m.split() if w.isalpha()})

    def message(self, n: int) -> str:
        rng = random.Random(n)
        return " ".join(rng.choice(self.words) for _ in range(12)) + f" {COMMON_WORD} {rng.randint(0, 9999)} n={n}"


def bodies(lines, count: int) -> list[bytes]:
    out = []
    for first in range(0, count, BODY_LINES):
        parts = []
        for n in range(first, min(first + BODY_LINES, count)):
            doc = {
                "@timestamp": iso_ns(BASE_NS + n * 1_000_037),
                "scale_order_num": n + 1,
                "stream": "stdout",
                "message": lines.message(n),
                "scale_job_exe": "scale_job_1_1",
                "scale_node": "node-1",
                "scale_job_type": "bench",
                "scale_job_version": "1.0",
                "scale_job_id": "1",
            }
            parts.append(b'{"create":{}}\n' + json.dumps(doc).encode() + b"\n")
        out.append(b"".join(parts))
    return out


def create(es, name: str, variant: str) -> None:
    body = LogTemplate("benchmap", replicas=0).body()["template"]
    message, settings = VARIANTS[variant]
    mappings = copy.deepcopy(body["mappings"])
    mappings["properties"]["message"] = message
    es.indices.create(index=name, settings={"index": {**body["settings"]["index"], **settings}}, mappings=mappings)


def ingest(es, name: str, chunks: list[bytes]) -> float:
    began = time.perf_counter()
    for chunk in chunks:
        resp = es.bulk(index=name, operations=chunk)
        if resp.body.get("errors"):
            raise RuntimeError(f"bulk errors in {name}")
    es.indices.refresh(index=name)
    return time.perf_counter() - began


def sizes(es, name: str) -> dict:
    es.options(request_timeout=600).indices.forcemerge(index=name, max_num_segments=1)
    es.indices.refresh(index=name)
    store = es.indices.stats(index=name, metric="store").body["indices"][name]["primaries"]["store"]
    usage = es.indices.disk_usage(index=name, run_expensive_tasks=True).body[name]["fields"]
    field = usage.get("message.keyword", {})
    return {
        "store_bytes": store["size_in_bytes"],
        "sub_field_bytes": field.get("total_in_bytes", 0),
        "message_text_bytes": usage.get("message", {}).get("total_in_bytes", 0),
        "source_bytes": usage.get("_source", {}).get("total_in_bytes", 0),
    }


def regex_runs(es, name: str, truth: dict[str, int]) -> dict:
    out = {}
    for pattern in PATTERNS:
        tooks, count = [], None
        for _ in range(5):
            resp = es.search(
                index=name,
                query=regex_query(pattern),
                size=0,
                track_total_hits=True,
            ).body
            count = resp["hits"]["total"]["value"]
            tooks.append(resp["took"])
        out[pattern] = {"hits": count, "scan": truth[pattern], "equal": count == truth[pattern]}
        out[pattern]["took_ms_median"] = statistics.median(tooks)
    return out


def fetch_ms(es, name: str) -> float:
    tooks = []
    for _ in range(5):
        resp = es.search(index=name, size=10_000, sort=[{"@timestamp": "asc"}], filter_path=["took"]).body
        tooks.append(resp["took"])
    return statistics.median(tooks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--corpus", choices=("pool", "unique"), default="pool")
    parser.add_argument("--variants", default="", help="comma-separated numbers of VARIANTS (default all)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "regex-mapping-cost.json"))
    args = parser.parse_args()
    lines = Lines() if args.corpus == "pool" else UniqueLines()
    messages = [lines.message(n) for n in range(args.lines)]
    truth = {p: sum(1 for m in messages if re.fullmatch(p, m, re.S)) for p in PATTERNS}
    chunks = bodies(lines, args.lines)
    names = list(VARIANTS)
    if args.variants:
        names = [names[int(i)] for i in args.variants.split(",")]
    result: dict = {"measure": "regex mapping cost", "machine": machine(), "lines": args.lines}
    result["corpus"] = args.corpus
    result["bytes_of_messages"] = sum(len(m.encode()) for m in messages)
    seconds: dict[str, list[float]] = {v: [] for v in names}
    measured: dict[str, dict] = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mapping-cost-")))
        os.environ.setdefault("ES_HEAP", "512m")
        es = es_client(stack.enter_context(elasticsearch(tmp / "es")))
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for variant in order:
                name = f"benchmap-{r}-{names.index(variant)}"
                create(es, name, variant)
                seconds[variant].append(ingest(es, name, chunks))
                log(f"round {r} {variant}: {seconds[variant][-1]:.1f}s")
                if r == 0:
                    measured[variant] = {**sizes(es, name), "regex": regex_runs(es, name, truth)}
                    measured[variant]["fetch_10000_ms_median"] = fetch_ms(es, name)
                es.indices.delete(index=name)
    base_s = statistics.median(seconds["none"])
    base_bytes = measured["none"]["store_bytes"]
    result["load_avg_at_end"] = list(os.getloadavg())
    result["variants"] = {
        v: {
            "ingest_seconds": seconds[v],
            "ingest_lines_per_s": round(args.lines / statistics.median(seconds[v])),
            "ingest_ratio_to_none": round(statistics.median(seconds[v]) / base_s, 3),
            "size_ratio_to_none": round(measured[v]["store_bytes"] / base_bytes, 3),
            **measured[v],
        }
        for v in names
    }
    text = json.dumps(result, indent=2)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
