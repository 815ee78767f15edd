"""Independent checks of what the reliability tests did to the data: log lines read back from Elasticsearch,
job counters against count(*), job and execution states, and each process's memory slope.

Nothing here goes through the API under test: Elasticsearch is read with the official client, the database
with plain SQLAlchemy statements written here (mirroring tests/jobs/test_counts.py's reference oracle).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager

from elasticsearch import ApiError, Elasticsearch, helpers

# --- Elasticsearch ------------------------------------------------------------------------------------------

# A search that reaches a daily index whose primary is still being allocated fails as a whole with this.
INDEX_NOT_READY = "search_phase_execution_exception"


def wait_for_shards(es: Elasticsearch, pattern: str, timeout: float = 60) -> None:
    """Wait until every index matching pattern has its primaries active (a pattern matching nothing is ready)."""
    health = es.options(request_timeout=timeout + 10).cluster.health(
        index=pattern, wait_for_status="yellow", timeout=f"{int(timeout)}s"
    )
    assert not health["timed_out"], f"indices {pattern} not allocated within {timeout} s: {health}"


def patiently(es: Elasticsearch, pattern: str, call: Callable, timeout: float = 60):
    """call() once the indices of pattern are allocated; again while a daily index created in between makes it
    fail with INDEX_NOT_READY (the only error retried), until timeout."""
    deadline = time.monotonic() + timeout
    while True:
        wait_for_shards(es, pattern, max(1.0, deadline - time.monotonic()))
        try:
            return call()
        except ApiError as exc:
            if exc.meta.status != 503 or exc.error != INDEX_NOT_READY or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def count_lines(es: Elasticsearch, pattern: str, cluster_id: str) -> int:
    def count() -> int:
        es.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
        return es.count(
            index=pattern, query={"term": {"scale_job_exe": cluster_id}}, ignore_unavailable=True, allow_no_indices=True
        )["count"]

    return patiently(es, pattern, count)


def read_lines(es: Elasticsearch, pattern: str, cluster_id: str) -> list[dict]:
    """Every document of the execution (duplicates included: a scroll, not a sorted page walk that could skip
    equal sort values), sorted by scale_order_num."""

    def read() -> list[dict]:
        es.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
        hits = helpers.scan(
            es,
            index=pattern,
            query={"query": {"term": {"scale_job_exe": cluster_id}}},
            size=5000,
            _source=["message", "stream", "scale_order_num"],
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        return [h["_source"] for h in hits]

    return sorted(patiently(es, pattern, read), key=lambda d: (d["scale_order_num"], d["message"]))


def assert_lines_exactly_once(docs: list[dict], batches: list[list[str]], what: str) -> None:
    """docs (read_lines) hold the accepted batches' lines, each exactly once, numbered 1..N without a gap, each
    batch's lines with consecutive numbers in its own line order."""
    expected = sum(len(b) for b in batches)
    numbers = [d["scale_order_num"] for d in docs]
    assert len(docs) == expected, f"{what}: {len(docs)} lines stored, {expected} accepted"
    assert numbers == list(range(1, expected + 1)), f"{what}: order numbers are not 1..{expected}"
    number_of = {d["message"]: d["scale_order_num"] for d in docs}
    assert len(number_of) == expected, f"{what}: a message is stored twice"
    for batch in batches:
        got = [number_of.get(m) for m in batch]
        assert None not in got, f"{what}: accepted line {batch[got.index(None)]!r} not stored"
        assert got == list(range(got[0], got[0] + len(batch))), (
            f"{what}: a batch's lines are not numbered consecutively in their own order"
        )


# --- the database -------------------------------------------------------------------------------------------


@contextmanager
def snapshot(engine):
    """A connection whose statements all read one snapshot."""
    with engine.connect() as c:
        if engine.dialect.name == "postgresql":
            c.execution_options(isolation_level="REPEATABLE READ")
        else:
            c.exec_driver_sql("BEGIN")
        try:
            yield c
        finally:
            c.rollback()


def assert_counts_match_count_star(engine) -> int:
    """jobs/counts.py's count_jobs equals count(*) for every status, job type, status x job type, several
    statuses and no filter; and the counter rows sum, per key, to the jobs' GROUP BY. Returns queries checked."""
    from sqlalchemy import func, select

    from jobs.counts import count_jobs
    from jobs.models import Job, JobCount
    from jobs.records import JobQuery
    from jobs.statuses import JOB_STATUSES

    with snapshot(engine) as c:
        type_ids = sorted(c.scalars(select(Job.job_type_id).distinct()))
        queries = [JobQuery(), JobQuery(statuses=list(JOB_STATUSES)), JobQuery(statuses=["QUEUED", "CANCELED"])]
        queries += [JobQuery(statuses=[s]) for s in JOB_STATUSES]
        queries += [JobQuery(job_type_ids=[t]) for t in type_ids]
        queries += [JobQuery(statuses=[s], job_type_ids=[t]) for s in JOB_STATUSES for t in type_ids]
        wrong = []
        for q in queries:
            where = []
            if q.statuses is not None:
                where.append(Job.status.in_(q.statuses))
            if q.job_type_ids is not None:
                where.append(Job.job_type_id.in_(q.job_type_ids))
            expected = c.scalar(select(func.count()).select_from(Job).where(*where))
            got = count_jobs(c, q)
            if got != expected:
                wrong.append((q, got, expected))
        jobs = {
            (t, s): n
            for t, s, n in c.execute(
                select(Job.job_type_id, Job.status, func.count()).group_by(Job.job_type_id, Job.status)
            )
        }
        counters = {
            (t, s): int(n)
            for t, s, n in c.execute(
                select(JobCount.job_type_id, JobCount.status, func.sum(JobCount.n))
                .group_by(JobCount.job_type_id, JobCount.status)
                .having(func.sum(JobCount.n) != 0)
            )
        }
    assert wrong == [], f"job counters differ from count(*): {wrong[:5]}"
    assert counters == jobs, f"job_counts {counters} != jobs {jobs}"
    return len(queries)


def assert_jobs_and_executions_consistent(engine) -> dict:
    """What cancel, requeue, start and finish must leave, however a request was cut off: a RUNNING job has exactly
    one RUNNING execution, its current one (exe_num = num_exes); no other job has a RUNNING execution; no
    execution is numbered beyond its job's num_exes. Returns the jobs per status."""
    from sqlalchemy import select

    from jobs.models import Job, JobExecution

    with snapshot(engine) as c:
        jobs = {row.id: row for row in c.execute(select(Job.id, Job.status, Job.num_exes))}
        exes = c.execute(select(JobExecution.job_id, JobExecution.exe_num, JobExecution.status)).all()
    running = {}
    problems = []
    for job_id, exe_num, status in exes:
        job = jobs[job_id]
        if exe_num > job.num_exes:
            problems.append(f"job {job_id}: execution {exe_num} beyond num_exes {job.num_exes}")
        if status == "RUNNING":
            running.setdefault(job_id, []).append(exe_num)
    for job_id, job in jobs.items():
        nums = running.get(job_id, [])
        if job.status == "RUNNING" and nums != [job.num_exes]:
            problems.append(f"job {job_id} RUNNING with running executions {nums} (num_exes {job.num_exes})")
        if job.status != "RUNNING" and nums:
            problems.append(f"job {job_id} {job.status} with running executions {nums}")
    assert problems == [], problems[:10]
    return dict(sorted(Counter(job.status for job in jobs.values()).items()))


# --- memory -------------------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """Reads every process's RSS every `interval` seconds, with the number of requests answered so far."""

    def __init__(self, pids: list[int], answered: Callable[[], int], interval: float = 0.25):
        self.pids = list(pids)
        self.answered = answered
        self.interval = interval
        self.samples: list[tuple[int, dict[int, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        self.samples.append((self.answered(), {pid: rss_mb(pid) for pid in self.pids}))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def theil_sen(points: list[tuple[float, float]]) -> float:
    """The median of the slopes between every two points of different x (Theil-Sen): exact for steady growth,
    and not moved by a single step (a cache or pool reaching its size), as a least-squares fit would be."""
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points) for x2, y2 in points[i + 1 :] if x2 != x1]
    return statistics.median(slopes) if slopes else 0.0


def mb_per_1000_requests(samples: list[tuple[int, dict[int, float]]], since_requests: int) -> dict[int, float]:
    """Per process: the Theil-Sen slope of its RSS (MB) over the requests answered (by the whole server), per
    1,000 requests, fitted on the samples taken once `since_requests` requests had been answered."""
    window = [(n, rss) for n, rss in samples if n >= since_requests]
    pids = window[0][1].keys() if window else []
    # Thinned to at most 150 points: ~11,000 pairs, enough for the median.
    step = max(1, len(window) // 150)
    window = window[::step]
    return {pid: round(1000 * theil_sen([(n, rss[pid]) for n, rss in window]), 3) for pid in pids}


def ols(points: list[tuple[float, float]]) -> float:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0
