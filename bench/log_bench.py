"""Measures 2, 3 and 6 on indexed log lines: the full log read, the first page and tail, and the search.

Lines are written for these measures with pre-serialized bulk requests (setup, not measured), in our
documents' shape (ingest.documents) under a prefix the API under test reads.
(This folds in bench/log_stream.py.)
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast
from urllib.parse import urlencode

from elasticsearch import Elasticsearch

from bench import data
from bench.harness import Client, Gunicorn, log, rss_mb
from bench.stats import interleaved_latencies, median, paired_ratio, ratio, spread, summary_ms

# What ours asks Elasticsearch for in a whole-log read (search.reads): a bare reader asks for the same.
HITS_ONLY = ["hits.hits._index", "hits.hits._id", "hits.hits._source", "hits.hits.sort", "pit_id"]
# Each hit of ours' JSON body (Scale's search response) carries this once; the body's own max_score does not match.
HIT_MARK = b'"_score":null'

# What a bare reader asks for: the fields of a line, in the same order as the API's sort.
SOURCE = [
    "message",
    "@timestamp",
    "scale_order_num",
    "scale_task",
    "scale_job_exe",
    "scale_node",
    "host",
    "stream",
    "scale_job_id",
    "scale_job_exe_num",
    "scale_job_type",
    "scale_job_version",
]


def sort(order: str = "asc") -> list[dict]:
    return [
        {"@timestamp": {"order": order, "numeric_type": "date_nanos"}},
        {"scale_order_num": order},
        {"_index": order},
        {"_seq_no": order},
    ]


# --- writing lines (setup) ---------------------------------------------------------------------------------


class Writer:
    """Pre-serialized bulk bodies, sent by a few threads: as fast as Elasticsearch takes them."""

    def __init__(self, es: Elasticsearch, prefix: str, threads: int = 2, body_lines: int = 10_000):
        self.es = es.options(request_timeout=600)
        self.prefix = prefix
        self.lines = data.Lines()
        self.pool_json = [json.dumps(m) for m in self.lines.pool]
        self.threads = threads
        self.body_lines = body_lines
        self._seconds: dict[int, str] = {}

    def _time(self, ns: int) -> str:
        seconds, fraction = divmod(ns, data.NS)
        text = self._seconds.get(seconds)
        if text is None:
            if len(self._seconds) > 100_000:
                self._seconds.clear()
            text = self._seconds[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        return f"{text}.{fraction:09d}Z"

    def body(self, exe: int, first_order: int, count: int, first_ns: int, step_ns: int, n0: int) -> bytes:
        cid = f"scale_job_{exe}x1"
        shared = (
            f'"scale_job_exe":"{cid}","scale_task":"{cid}_main","scale_node":"node-{exe % 20:02d}",'
            f'"host":"node-{exe % 20:02d}","scale_job_type":"type-{exe % 20:02d}","scale_job_version":"1.0.0",'
            f'"scale_job_id":"{exe}","scale_job_exe_num":"1"'
        )
        parts = []
        for i in range(count):
            order = first_order + i
            ns = first_ns + i * step_ns
            n = n0 + i
            message = self.lines.message(n)
            msg = (
                json.dumps(message)
                if n % data.RARE_EVERY == 7
                else self.pool_json[(n * 2654435761) % len(self.lines.pool)][:-1] + f' n={n}"'
            )
            day = time.strftime("%Y.%m.%d", time.gmtime(ns // data.NS))
            parts.append(
                f'{{"create":{{"_index":"{self.prefix}-{day}","_id":"{cid}#{order}"}}}}\n'
                f'{{"@timestamp":"{self._time(ns)}","scale_order_num":{order},'
                f'"stream":"{"stderr" if n % 5 == 0 else "stdout"}","message":{msg},{shared}}}\n'
            )
        return "".join(parts).encode()

    def write(self, jobs: list[tuple[int, int, int, int, int]], deadline: float | None = None) -> int:
        """jobs: (exe, lines, first_ns, step_ns, n0); returns lines written (fewer if the deadline came)."""
        from ingest.template import ensure_template

        ensure_template(self.es, self.prefix)
        tasks = []
        for exe, count, first_ns, step_ns, n0 in jobs:
            for start in range(0, count, self.body_lines):
                size = min(self.body_lines, count - start)
                tasks.append((exe, start + 1, size, first_ns + start * step_ns, step_ns, n0 + start))
        written = 0
        lock = threading.Lock()

        def send(task) -> int:
            if deadline is not None and time.monotonic() > deadline:
                return 0
            resp = self.es.bulk(
                operations=cast(Any, self.body(*task)), filter_path="errors,items.*.error"
            )  # NDJSON bytes
            if resp.get("errors"):
                raise RuntimeError(f"bulk errors: {str(resp)[:500]}")
            with lock:
                nonlocal written
                written += task[2]
            return task[2]

        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(send, tasks))
        self.es.indices.refresh(index=f"{self.prefix}-*")
        return written


# --- 2. the full log read ----------------------------------------------------------------------------------

# A whole read is checked by what it returned, not only how many lines: a walk that repeats one line and skips
# another keeps the count but not the order-number sum, and any wrong or reordered message changes the hash.
# The generated messages hold no quote or backslash (bench/data.py), so a message is the same bytes in
# JSON and in text; one that needed escaping would not match _MESSAGE and the line count would differ.
_MESSAGE = re.compile(rb'"message":"([^"\\]*)"')
_ORDER = re.compile(rb'"scale_order_num":(\d+)[,}]')
_MESSAGE_KEY = b'"message":"'


class Content:
    """Lines, the sum of their order numbers, and a hash of their messages in order joined by newlines (which
    is exactly the txt body, so a txt read is hashed as it streams)."""

    def __init__(self) -> None:
        self.lines = 0
        self.order_sum = 0
        self._hash = hashlib.blake2b(digest_size=16)

    def messages(self, messages: list[bytes]) -> None:
        if messages:
            self._hash.update((b"\n" if self.lines else b"") + b"\n".join(messages))
            self.lines += len(messages)

    def orders(self, numbers) -> None:
        self.order_sum += sum(numbers)

    def json_text(self, text: bytes) -> None:
        """JSON text holding whole lines: a search answer, or a body cut at a message key."""
        self.messages(_MESSAGE.findall(text))
        self.orders(map(int, _ORDER.findall(text)))

    def text_chunk(self, chunk: bytes) -> None:
        self._hash.update(chunk)

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()


def word_query(word: str) -> dict:
    """What ours' `q=` makes of one word (search.text): the lines holding it."""
    return {"match": {"message": {"query": word, "operator": "and"}}}


def bare_search(es: Elasticsearch, index: str, word: str):
    """A first search page as ours asks it, with the bare client: the word's lines, newest first (then order
    number, index, sequence), 100 of them with their exact count, no highlight."""
    return es.search(
        index=index,
        query=word_query(word),
        sort=sort("desc"),
        size=100,
        track_total_hits=True,
        filter_path=["hits.total", "hits.hits._source"],
    )


def _count_sink(
    client: Client, path: str, separator: bytes, content: Content | None = None, json_lines: bool = False
) -> tuple[int, int]:
    """(bytes, separators) of a streamed body, counted chunk by chunk (a separator may straddle two chunks:
    the last len-1 bytes are carried over, too short to hold a whole one, so none is counted twice)."""
    size = 0
    import http.client

    conn = http.client.HTTPConnection(client.host, client.port, timeout=900)
    conn.request("GET", path)
    resp = conn.getresponse()
    status, seps, carry, keep = resp.status, 0, b"", len(separator) - 1
    pending = b""
    while chunk := resp.read(1 << 16):
        size += len(chunk)
        if content is not None and json_lines:  # NDJSON: whole lines up to the last message key, as in JSON
            pending += chunk
            cut = pending.rfind(_MESSAGE_KEY)
            if cut > 0:
                content.json_text(pending[:cut])
                pending = pending[cut:]
        elif content is not None:
            content.text_chunk(chunk)
        joined = carry + chunk
        seps += joined.count(separator)
        carry = joined[-keep:] if keep else b""
    if content is not None and json_lines:
        content.json_text(pending)
    conn.close()
    if status != 200:
        raise RuntimeError(f"{path}: {status}")
    return size, seps


def bare_read(
    es: Elasticsearch, index: str, cluster_id: str, content: Content | None = None, query: dict | None = None
) -> tuple[int, int]:
    """Every line of the execution (or of `query`: an export's matches) with a point in time and search_after,
    2,000 per request, in line order."""
    query = query or {"bool": {"filter": [{"term": {"scale_job_exe": cluster_id}}]}}
    pit = es.open_point_in_time(index=index, keep_alive="2m")["id"]
    count, size, after = 0, 0, None
    try:
        while True:
            resp = es.search(
                pit={"id": pit, "keep_alive": "2m"},
                query=query,
                sort=sort(),
                size=2000,
                search_after=after,
                track_total_hits=False,
                source={"includes": SOURCE},
                filter_path=HITS_ONLY,
            )
            pit = resp.get("pit_id", pit)
            hits = resp.get("hits", {}).get("hits", [])
            count += len(hits)
            size += sum(len(h["_source"]["message"]) for h in hits)
            if content is not None:
                content.messages([h["_source"]["message"].encode() for h in hits])
                content.orders(h["_source"]["scale_order_num"] for h in hits)
            if len(hits) < 2000:
                break
            after = hits[-1]["sort"]
    finally:
        es.close_point_in_time(id=pit)
    return count, size


_BODY_END = re.compile(rb'\],"total":(\d+)\},"took":\d+\}$')


def _json_total(client: Client, path: str, content: Content | None = None) -> tuple[int, int, int]:
    """(bytes, hits counted in the body, the body's hits.total) of ours' JSON body, streamed and counted."""
    import http.client

    conn = http.client.HTTPConnection(client.host, client.port, timeout=900)
    conn.request("GET", path)
    resp = conn.getresponse()
    status, size, hits, carry, tail, pending = resp.status, 0, 0, b"", b"", b""
    keep = len(HIT_MARK) - 1
    while chunk := resp.read(1 << 16):
        size += len(chunk)
        joined = carry + chunk
        hits += joined.count(HIT_MARK)
        carry = joined[-keep:]
        tail = (tail + chunk)[-200:]
        if content is not None:  # whole lines up to the last message key; the rest waits for the next chunk
            pending += chunk
            cut = pending.rfind(_MESSAGE_KEY)
            if cut > 0:
                content.json_text(pending[:cut])
                pending = pending[cut:]
    if content is not None:
        content.json_text(pending)
    conn.close()
    if status != 200:
        raise RuntimeError(f"{path}: {status}")
    end = _BODY_END.search(tail)  # ...],"total":N},"took":T}: the count is only known at the end
    if end is None:
        raise RuntimeError(f"{path}: the body does not end as Scale's search response: {tail[-80:]!r}")
    return size, hits, int(end[1])


def reset_peak_rss(pids: list[int]) -> None:
    """Reset each process's VmHWM to its current RSS (Linux: 5 > /proc/PID/clear_refs), so the next reading of
    VmHWM is the peak of what came after: one peak per side, not the process's lifetime peak. A worker keeps
    the memory an earlier read grew it to, so a side's peak is never below that: an upper bound per side,
    and the highest of them the process's peak."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def read_ceiling(es_url: str, index: str, cluster_id: str, content: Content | None = None) -> tuple[int, int]:
    from bench import ceilings
    from search.queries import LINE_SOURCE, line_sort

    query = {"bool": {"filter": [{"term": {"scale_job_exe": cluster_id}}]}}
    return ceilings.read(es_url, index, query, line_sort(), LINE_SOURCE, HITS_ONLY, content)


def measure_read(
    es: Elasticsearch,
    es_url: str,
    api: Gunicorn,
    index: str,
    exe_id: int,
    cluster_id: str,
    lines: int,
    repeat: int,
    budget_s: float = float("inf"),
    sides: tuple[str, ...] = ("json", "raw", "txt", "ceiling"),
) -> dict:
    """Whole-log reads, the sides taking turns (their order reversed every other round): ours as JSON (Scale's
    body) and as text through the API, bare search_after with the client (`raw`), and the read ceiling."""
    client = Client(api.url)
    base = f"/v6/job-executions/{exe_id}/logs/combined/"
    peaks: list[float] = []
    stop = threading.Event()

    def sample() -> None:  # the current RSS of the busiest worker, as a cross-check of VmHWM
        while not stop.is_set():
            try:
                peaks.append(max(rss_mb(p, "VmRSS") for p in api.worker_pids()))
            except (OSError, ValueError):
                pass
            time.sleep(0.05)

    before = {p: rss_mb(p, "VmRSS") for p in api.worker_pids()}
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rates: dict[str, list[float]] = {name: [] for name in sides}
    sizes: dict[str, int] = {}
    digests: dict[str, str] = {}
    side_peaks: dict[str, float] = {}  # the busiest worker's VmHWM over each side's reads (reset before each)
    began = time.monotonic()  # for the budget; each read has its own timer below
    for round_ in range(repeat):
        if round_ and time.monotonic() - began > budget_s:
            break
        for name in sides if round_ % 2 == 0 else tuple(reversed(sides)):
            content = Content()
            reset_peak_rss(api.worker_pids())
            read_began = time.perf_counter()
            if name == "raw":
                got, size = bare_read(es, index, cluster_id, content)
            elif name == "ceiling":
                got, size = read_ceiling(es_url, index, cluster_id, content)
            elif name == "txt":
                size, seps = _count_sink(client, f"{base}?format=txt", b"\n", content)
                got = seps + 1
            elif name == "ndjson":
                size, got = _count_sink(client, f"{base}?format=ndjson", b"\n", content, json_lines=True)
            else:
                size, got, total = _json_total(client, f"{base}?format=json", content)
                if total != got:
                    raise RuntimeError(f"log read json: {got} hits in the body, hits.total {total}")
            seconds = time.perf_counter() - read_began
            if got != lines:
                raise RuntimeError(f"log read {name}: {got} lines, expected {lines}")
            # Content, on every side and round: the same messages in the same order as the first read, and (but
            # for txt, which has no order numbers) one line of each number: the sum of 1..N.
            if name != "txt" and (content.lines, content.order_sum) != (lines, lines * (lines + 1) // 2):
                raise RuntimeError(
                    f"log read {name}: {content.lines} lines parsed, order numbers sum {content.order_sum}, "
                    f"expected {lines} and {lines * (lines + 1) // 2}"
                )
            if digests.setdefault("first", content.digest) != content.digest:
                raise RuntimeError(f"log read {name}: messages hash {content.digest}, {digests['first']} before")
            digests[name] = content.digest
            side_peaks[name] = max(side_peaks.get(name, 0.0), max(rss_mb(p) for p in api.worker_pids()))
            if sizes.setdefault(name, size) != size:
                raise RuntimeError(f"log read {name}: {size} bytes, {sizes[name]} in an earlier round")
            # Ours against raw: the text is every message raw read, one per line (the generated messages are
            # ASCII, so raw's characters are the text's bytes).
            if "txt" in sizes and "raw" in sizes and sizes["txt"] != sizes["raw"] + lines - 1:
                raise RuntimeError(
                    f"log read txt: {sizes['txt']} bytes, raw's messages {sizes['raw']} + {lines - 1} newlines"
                )
            rates[name].append(lines / seconds)
            log(f"read {lines:,} round {round_ + 1} {name}: {lines / seconds:,.0f} lines/s")
    stop.set()
    sampler.join()
    hwm = max(side_peaks.values())
    out: dict = {"lines": lines, "repeats": len(next(iter(rates.values())))}
    for name in sides:
        out[f"{name}_lines_per_s"] = round(median(rates[name]))
    for fmt in ("json", "txt", "ndjson"):
        if fmt not in sides:
            continue
        fig: dict = {"ours_lines_per_s": out[f"{fmt}_lines_per_s"], "body_bytes": sizes.get(fmt)}
        for other in ("raw", "ceiling"):
            if other in sides:
                fig[f"{other}_lines_per_s"] = out[f"{other}_lines_per_s"]
                fig["ratio" if other == "raw" else "ceiling_ratio"] = paired_ratio(rates[fmt], rates[other])
        out[fmt] = fig
    out.update(
        cross_check={
            "lines_expected": lines,
            "lines_read_by_each": lines,
            "raw_message_bytes": sizes.get("raw"),
            "ceiling_body_bytes": sizes.get("ceiling"),
            # Only the checks this read made (each raised above if it failed).
            **({"json_hits_total_equal_hits": True} if "json" in sides else {}),
            # Every side, every round: the messages hash below, and the order numbers summing to 1..N.
            "messages_blake2b_of_every_side": digests.get("first"),
            "order_sum_of_every_side_but_txt": lines * (lines + 1) // 2,
            **({"txt_bytes_equal_raw_messages_plus_newlines": True} if {"txt", "raw"} <= set(sides) else {}),
        },
        samples={k: [round(v) for v in vs] for k, vs in rates.items()},
        worker_rss_before_mb=max(before.values()) if before else None,
        worker_peak_rss_mb=hwm,
        worker_peak_rss_mb_by_side=side_peaks,
        worker_peak_rss_sampled_mb=max(peaks) if peaks else None,
    )
    return out


# --- 3. first page and tail --------------------------------------------------------------------------------


def measure_first_page(
    es: Elasticsearch, api: Gunicorn, index: str, exe_id: int, cluster_id: str, repeat: int, budget_s: float
) -> dict:
    client = Client(api.url)
    base = f"/v6/job-executions/{exe_id}/logs/combined/"
    query = {"bool": {"filter": [{"term": {"scale_job_exe": cluster_id}}]}}
    out: dict[str, Any] = {}
    for name, path, order, size in (
        ("first_1000", f"{base}?limit=1000", "asc", 1000),
        ("tail_100", f"{base}?tail=100", "desc", 100),
    ):
        ours_bodies: dict[int, bytes] = {}
        raw_seen: set[tuple] = set()

        def ours():
            status, body = client.get(path)
            if status != 200:
                raise RuntimeError(f"{path}: {status}")
            ours_bodies.setdefault(hash(body), body)

        def bare():
            hits = es.search(
                index=index,
                query=query,
                sort=sort(order),
                size=size,
                source={"includes": SOURCE},
                track_total_hits=False,
                filter_path=["hits.hits._source", "hits.hits.sort"],
            )
            found = hits["hits"]["hits"]
            if len(found) != size:
                raise RuntimeError("bare first page short")
            raw_seen.add(tuple((h["_source"]["scale_order_num"], h["_source"]["message"]) for h in found))

        samples = interleaved_latencies({"ours": ours, "raw": bare}, repeat, warmup=5, budget_s=budget_s)
        # Ours against raw: the same lines (order numbers and messages), in order (oldest first for the tail).
        if len(raw_seen) != 1:
            raise RuntimeError(f"{name}: raw answered {len(raw_seen)} different pages")
        expected = list(next(iter(raw_seen)))
        if order == "desc":
            expected.reverse()
        for body in ours_bodies.values():
            got = [(h["_source"]["scale_order_num"], h["_source"]["message"]) for h in json.loads(body)["hits"]["hits"]]
            if got != expected:
                raise RuntimeError(f"{name}: ours returned {len(got)} lines {got[:2]}.., raw {expected[:2]}..")
        o, r = summary_ms(samples["ours"]), summary_ms(samples["raw"])
        out[name] = {
            "path": path,
            "ours": o,
            "raw": r,
            "ratio_p50": ratio(o["p50_ms"], r["p50_ms"]),
            "target_p50_ms": round(1.5 * r["p50_ms"] + 5, 2),
            "met": o["p50_ms"] <= 1.5 * r["p50_ms"] + 5,
            "cross_check": {"lines": size, "lines_equal_raw": True, "distinct_ours_bodies": len(ours_bodies)},
        }
        log(f"{name}: ours p50 {o['p50_ms']} ms, raw p50 {r['p50_ms']} ms")
    out["client_resends"] = client.resends
    client.close()
    return out


# --- 6. search -----------------------------------------------------------------------------------------------


def measure_search(es: Elasticsearch, api: Gunicorn, index: str, indexed: int, repeat: int, budget_s: float) -> dict:
    client = Client(api.url)
    out: dict = {"indexed_lines": indexed}
    for name, word in (("rare_word", data.RARE_WORD), ("common_word", data.COMMON_WORD)):
        path = "/v6/logs/?" + urlencode({"q": word})
        ours_bodies: dict[int, bytes] = {}
        raw_seen: set[tuple] = set()

        def ours():
            status, body = client.get(path)
            if status != 200:
                raise RuntimeError(f"{path}: {status} {body[:300]!r}")
            ours_bodies.setdefault(hash(body), body)

        def bare():
            resp = bare_search(es, index, word)
            hits = resp.get("hits", {}).get("hits", [])
            raw_seen.add(
                (
                    resp["hits"]["total"]["value"],
                    tuple((h["_source"]["scale_job_exe"], h["_source"]["scale_order_num"]) for h in hits),
                )
            )

        def floor():  # the least an API request costs here: HTTP to gunicorn, routing, auth, a small JSON answer
            status, _ = client.get("/v6/version/")
            if status != 200:
                raise RuntimeError(f"/v6/version/: {status}")

        samples = interleaved_latencies(
            {"ours": ours, "raw": bare, "floor": floor}, repeat, warmup=2, budget_s=budget_s, min_repeat=3
        )
        # Ours against raw: the same number of matches, and the same lines on the first page, in order.
        if len(raw_seen) != 1:
            raise RuntimeError(f"search {name}: raw answered {len(raw_seen)} different results")
        raw_count, raw_page = next(iter(raw_seen))
        ours_counts = set()
        for body in ours_bodies.values():
            doc = json.loads(body)
            page = tuple((h["scale_job_exe"], h["scale_order_num"]) for h in doc["results"])
            ours_counts.add(doc["count"])
            if doc["count"] != raw_count or page != raw_page:
                raise RuntimeError(
                    f"search {name}: ours {doc['count']} matches, page {page[:2]}..; "
                    f"raw {raw_count}, page {raw_page[:2]}.."
                )
        o, r, fl = summary_ms(samples["ours"]), summary_ms(samples["raw"]), summary_ms(samples["floor"])
        out[name] = {
            "path": path,
            "matched": sorted(ours_counts),
            "raw_matched": raw_count,
            "cross_check": {
                "counts_equal": True,
                "page_lines": len(raw_page),
                "page_equal": True,
                "distinct_ours_bodies": len(ours_bodies),
            },
            "ours": o,
            "raw": r,
            "ratio_p50": ratio(o["p50_ms"], r["p50_ms"]),
            "api_floor": fl,
            # Ours less the floor against raw: what our search costs beyond being an HTTP service at all.
            "ratio_p50_above_floor": ratio(o["p50_ms"] - fl["p50_ms"], r["p50_ms"]),
        }
        log(f"search {name}: ours p50 {o['p50_ms']} ms, raw p50 {r['p50_ms']} ms, {raw_count} hits")
    out["client_resends"] = client.resends
    client.close()
    return out


# --- scaling: the same reads at every log size ------------------------------------------------------------------


def _merged_reads(main: dict, extra: dict) -> dict:
    """Two measure_read results of one log as one: the extra sides' rates, formats, samples and memory beside the
    main ones. Both read the same messages in the same order, or the merge fails."""
    first, second = (r["cross_check"]["messages_blake2b_of_every_side"] for r in (main, extra))
    if first != second:
        raise RuntimeError(f"log read: messages hash {second} in the extra formats' read, {first} in the main one")
    raw_bytes, lines = main["cross_check"]["raw_message_bytes"], main["lines"]
    if "txt" in extra and raw_bytes is not None:  # ours' text against raw's messages, as within one read
        if extra["txt"]["body_bytes"] != raw_bytes + lines - 1:
            raise RuntimeError(f"log read txt: {extra['txt']['body_bytes']} bytes, raw's {raw_bytes} + {lines - 1}")
        extra["cross_check"]["txt_bytes_equal_raw_messages_plus_newlines"] = True
    out = {**extra, **main}  # the main read's repeats, cross-check and RSS before; the extra sides' figures below
    for key, value in extra.items():
        if key.endswith("_lines_per_s") or key in ("txt", "ndjson"):
            out[key] = value
    out["samples"] = {**main["samples"], **extra["samples"]}
    out["worker_peak_rss_mb_by_side"] = {**main["worker_peak_rss_mb_by_side"], **extra["worker_peak_rss_mb_by_side"]}
    for key in ("worker_peak_rss_mb", "worker_peak_rss_sampled_mb"):
        out[key] = max((r[key] for r in (main, extra) if r[key] is not None), default=None)
    out["cross_check"] = {**extra["cross_check"], **main["cross_check"]}
    return out


def measure_scaling_point(
    es: Elasticsearch,
    es_url: str,
    api: Gunicorn,
    index: str,
    exe_id: int,
    cluster_id: str,
    lines: int,
    size: dict,
    largest: bool = False,
) -> dict:
    """First page and tail (ours and bare, interleaved), then one whole read of each side in
    size["scaling_whole_sides"] (and, at the largest size, size["largest_whole_extra_sides"]: the memory of
    every format is bounded there): a page should cost the same at every size, a whole read grow linearly.
    The workers' RSS at rest is read first, before any request of this point."""
    at_rest = max(rss_mb(p, "VmRSS") for p in api.worker_pids())  # first: before any read of this point
    pages = measure_first_page(
        es, api, index, exe_id, cluster_id, size["scaling_page_repeat"], size["scaling_page_budget_s"]
    )
    out: dict = {
        "lines": lines,
        "first_1000": {k: pages["first_1000"][k] for k in ("ours", "raw", "ratio_p50", "cross_check")},
        "tail_100": {k: pages["tail_100"][k] for k in ("ours", "raw", "ratio_p50", "cross_check")},
    }
    # One round per size below the largest (their curve is the point); at the largest, where the README draws its
    # conclusions, size["largest_whole_repeat"] rounds (3 in both modes) with their spread (audit 2, M5). The extra
    # formats read there once, for their memory, in a read of their own (each 10M-line read takes minutes).
    sides = tuple(size["scaling_whole_sides"])
    read = measure_read(
        es, es_url, api, index, exe_id, cluster_id, lines, size["largest_whole_repeat"] if largest else 1, sides=sides
    )
    if largest:
        extra = measure_read(
            es, es_url, api, index, exe_id, cluster_id, lines, 1, sides=tuple(size["largest_whole_extra_sides"])
        )
        read = _merged_reads(read, extra)
        sides += tuple(size["largest_whole_extra_sides"])
    read["seconds"] = {side: round(lines / read[f"{side}_lines_per_s"], 2) for side in sides}
    read["spread"] = {side: spread(read["samples"][side]) for side in sides}
    read["worker_rss_at_rest_mb"] = at_rest
    out["whole"] = read
    return out
