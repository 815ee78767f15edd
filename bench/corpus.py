"""The indexed log lines the read and search measures run on, kept in the bench node between runs.

Three groups of daily indices, each under its own prefix (the API reads one group as its own prefix and the
others as legacy patterns, so search can run over 1, 2 or 3 groups):
- a: the read logs of the smaller sizes (one execution each: scale_job_1x1, scale_job_2x1, ...);
- b: the largest read log (one execution);
- c: filler for search: 10,000-line executions spread over ten days.
Search runs over a, a+b and a+b+c.

Every line is numbered (n) across the whole corpus, so each has its own message and the rare word turns up once
per data.RARE_EVERY lines. A group is kept when the marker document written after it was complete says the same
version and size and the group's indices hold that many lines; otherwise its indices are deleted and it is
written again (pre-serialized _bulk bodies, bench.log_bench.Writer), refreshed and force-merged to one segment
per index, so later runs measure settled indices rather than background merges.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from bench import data
from bench.harness import log

# Bump when the layout, the generator (bench.data.Lines), the Writer's documents or the template change.
# 2: indices made with message.keyword (template version 2), which regex= and search2 need.
CORPUS_VERSION = 2
META_INDEX = "benchcorpus-meta"
FILLER_EXE_LINES = 10_000
FIRST_FILLER_EXE = 100_000
READ_STEP_NS = 1_000_037  # about one line a millisecond


@dataclass(frozen=True)
class Group:
    name: str
    prefix: str
    jobs: tuple[tuple[int, int, int, int, int], ...]  # (exe, lines, first_ns, step_ns, n0) for Writer.write

    @property
    def lines(self) -> int:
        return sum(j[1] for j in self.jobs)

    @property
    def pattern(self) -> str:
        return f"{self.prefix}-*"


@dataclass(frozen=True)
class Corpus:
    groups: tuple[Group, ...]
    read_sizes: tuple[int, ...]  # lines of the read logs, executions 1.. in this order

    def group(self, name: str) -> Group:
        return next(g for g in self.groups if g.name == name)

    def read_job(self, size: int) -> int:
        """The job id (and execution number 1) of the read log of `size` lines: job ids 1.. in size order."""
        return self.read_sizes.index(size) + 1

    def cluster_id(self, size: int) -> str:
        return f"scale_job_{self.read_job(size)}x1"


def layout(read_sizes: tuple[int, ...], filler_lines: int, name: str = "") -> Corpus:
    """read_sizes ascending: all but the largest go into group a, the largest into b; filler_lines into c.
    `name` tells layouts apart in one node (the full run's is "", quick's "q"), so each is kept."""
    prefix = f"benchc{CORPUS_VERSION}{name}"
    n0 = 0
    reads = []
    for k, size in enumerate(read_sizes):
        first_ns = data.BASE_NS + k * 3 * 86400 * data.NS // 2 + 123_457  # every log on days of its own
        reads.append((k + 1, size, first_ns, READ_STEP_NS, n0))
        n0 += size
    filler = []
    executions = -(-filler_lines // FILLER_EXE_LINES)
    step = int(10 * 86400 * data.NS / max(filler_lines, 1)) + 37  # the filler spans ten days
    start = data.BASE_NS + 20 * 86400 * data.NS
    for k in range(executions):
        lines = min(FILLER_EXE_LINES, filler_lines - k * FILLER_EXE_LINES)
        filler.append((FIRST_FILLER_EXE + k, lines, start + k * FILLER_EXE_LINES * step, step, n0))
        n0 += lines
    groups = (
        Group("a", f"{prefix}a", tuple(reads[:-1])),
        Group("b", f"{prefix}b", tuple(reads[-1:])),
        Group("c", f"{prefix}c", tuple(filler)),
    )
    return Corpus(tuple(g for g in groups if g.jobs), tuple(read_sizes))


def ensure(es: Elasticsearch, corpus: Corpus) -> dict:
    """Write what is missing; returns per group {"lines", "reused", "build_seconds"}."""
    from bench.log_bench import Writer

    es = es.options(request_timeout=3600)
    out: dict[str, dict] = {}
    for group in corpus.groups:
        if _complete(es, group):
            out[group.name] = {"lines": group.lines, "reused": True}
            continue
        log(f"corpus {group.prefix}: writing {group.lines:,} lines")
        began = time.monotonic()
        _drop(es, group)
        written = Writer(es, group.prefix).write(list(group.jobs))
        if written != group.lines:
            raise RuntimeError(f"corpus {group.prefix}: wrote {written} of {group.lines} lines")
        wrote = time.monotonic() - began
        es.indices.forcemerge(index=group.pattern, max_num_segments=1)
        es.indices.refresh(index=group.pattern)
        counted = es.count(index=group.pattern)["count"]
        if counted != group.lines:
            raise RuntimeError(f"corpus {group.prefix}: {counted} lines indexed, {group.lines} written")
        es.index(
            index=META_INDEX,
            id=group.prefix,
            document={"version": CORPUS_VERSION, "lines": group.lines},
            refresh=True,
        )
        seconds = time.monotonic() - began
        log(f"corpus {group.prefix}: {group.lines:,} lines in {seconds:.0f} s ({group.lines / wrote:,.0f} lines/s)")
        out[group.name] = {
            "lines": group.lines,
            "reused": False,
            "build_seconds": round(seconds, 1),
            "write_lines_per_s": round(group.lines / wrote),
        }
    return out


def _complete(es: Elasticsearch, group: Group) -> bool:
    meta = es.options(ignore_status=404).get(index=META_INDEX, id=group.prefix)
    if not meta.get("found") or meta["_source"] != {"version": CORPUS_VERSION, "lines": group.lines}:
        return False
    counted = es.count(index=group.pattern, ignore_unavailable=True, allow_no_indices=True)["count"]
    return counted == group.lines


def _drop(es: Elasticsearch, group: Group) -> None:
    es.options(ignore_status=404).delete(index=META_INDEX, id=group.prefix)
    names = list(es.indices.get(index=group.pattern, ignore_unavailable=True, allow_no_indices=True))
    if names:
        es.indices.delete(index=",".join(names))
