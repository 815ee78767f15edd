"""Job counts kept by the database (migration 0003, jobs/counts.py), checked against count(*) on the same data.

Runs on the configured database: SQLite per test by default, a PostgreSQL schema per test with DATABASE_URL.
No Elasticsearch: the stores work on the test database directly.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from contextlib import contextmanager

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.engine import make_url

from jobs import counts
from jobs.counts import count_jobs
from jobs.db import alembic_config, make_engine
from jobs.errors import JobStateConflict, NotFound
from jobs.models import Job, JobCount, JobTypeRevision
from jobs.records import JobQuery, OrderKey
from jobs.statuses import JOB_STATUSES
from jobs.stores import Stores
from tests.jobs.conftest import T0
from tests.jobs.helpers import manifest

TYPES = (("count-a", "1.0.0"), ("count-a", "2.0.0"), ("count-b", "1.0.0"), ("count-c", "1.0.0"))


@pytest.fixture
def engine(stores):
    return stores.db.engine


def add_types(stores) -> list[tuple[int, str, str]]:
    out = []
    for name, version in TYPES:
        row, _ = stores.job_types.save_job_type("img:1", manifest(name, version, files=()))
        out.append((row.id, name, version))
    return out


def populate(stores, clock, types) -> list[int]:
    """Jobs in every status through the store's own writes, plus raw SQL for the statuses it never sets."""
    jobs = [stores.jobs.create_job(types[i % len(types)][0], {}) for i in range(40)]
    exes = {job_id: stores.executions.start_execution(job_id, f"node-{job_id % 3}").id for job_id in jobs[:28]}
    clock.advance(minutes=5)
    for job_id in jobs[:8]:
        stores.executions.finish_execution(exes[job_id], "COMPLETED")
    for job_id in jobs[8:14]:
        assert stores.executions.finish_execution(exes[job_id], "FAILED") == "FAILED"
    for job_id in jobs[14:18]:  # a retried error with tries left: back to QUEUED
        assert stores.executions.finish_execution(exes[job_id], "FAILED", error={"name": "unknown"}) == "QUEUED"
    clock.advance(minutes=5)
    assert stores.jobs.cancel_jobs(JobQuery(job_ids=jobs[18:22] + jobs[30:34])) == 8  # 4 RUNNING, 4 QUEUED
    assert stores.jobs.requeue_jobs(JobQuery(job_ids=jobs[8:11] + jobs[18:20])) == 5
    jobs.append(stores.jobs.create_job(types[0][0], {}, superseded_job_id=jobs[11]))
    with stores.db.engine.begin() as c:
        c.execute(text("UPDATE jobs SET status = 'BLOCKED' WHERE id IN (:a, :b)"), {"a": jobs[34], "b": jobs[35]})
        c.execute(text("UPDATE jobs SET status = 'PENDING' WHERE id = :a"), {"a": jobs[36]})
    return jobs


def reference(connection, q: JobQuery, types) -> int:
    """count(*) of the jobs matching q, written independently of jobs/counts.py."""
    conditions = []
    if q.statuses is not None:
        conditions.append(Job.status.in_(q.statuses))
    if q.job_type_ids is not None:
        conditions.append(Job.job_type_id.in_(q.job_type_ids))
    if q.job_type_names is not None and q.job_type_versions is not None:
        pairs = list(zip(q.job_type_names, q.job_type_versions))
        conditions.append(Job.job_type_id.in_([i for i, name, version in types if (name, version) in pairs]))
    elif q.job_type_names is not None:
        conditions.append(Job.job_type_id.in_([i for i, name, _ in types if name in q.job_type_names]))
    elif q.job_type_versions is not None:
        conditions.append(Job.job_type_id.in_([i for i, _, version in types if version in q.job_type_versions]))
    if q.job_types is not None:
        conditions.append(Job.job_type_id.in_([i for i, name, version in types if (name, version) in q.job_types]))
    return connection.scalar(select(func.count()).select_from(Job).where(*conditions))


def queries(types) -> list[JobQuery]:
    """Every status, every job type, every combination of the two, names, pairs, several values, no filter."""
    ids = [i for i, _, _ in types]
    names = sorted({name for _, name, _ in types})
    statuses = list(JOB_STATUSES) + ["NOT-A-STATUS"]
    out = [
        JobQuery(),
        JobQuery(statuses=[]),
        JobQuery(job_type_ids=[]),
        JobQuery(job_types=[]),
        JobQuery(statuses=["QUEUED", "RUNNING"], job_type_ids=ids[:2]),
        JobQuery(statuses=["FAILED", "CANCELED"], job_type_names=names[:1]),
        JobQuery(job_types=[TYPES[0], TYPES[2], ("nope", "1.0.0"), (TYPES[2][0], "9.9.9")]),
        JobQuery(job_type_ids=ids[:1], job_type_names=names[1:], job_types=[TYPES[0]]),  # ANDed: nothing
        JobQuery(job_type_ids=ids[:2], job_type_names=names[:1], statuses=["QUEUED"]),
        JobQuery(statuses=["COMPLETED"], order=(OrderKey("id", descending=True),)),
    ]
    out += [JobQuery(statuses=[s]) for s in statuses]
    out += [JobQuery(job_type_ids=[i]) for i in ids + [10**9]]
    out += [JobQuery(job_type_names=[n]) for n in names + ["nope"]]
    out += [JobQuery(job_types=[pair]) for pair in list(TYPES) + [("nope", "1.0.0")]]
    out += [JobQuery(statuses=[s], job_type_ids=[i]) for s in statuses for i in ids]
    out += [JobQuery(statuses=[s], job_type_names=[n]) for s in statuses for n in names]
    # Scale's UI: names and versions in parallel (pairs), or versions alone.
    out += [JobQuery(job_type_names=[name], job_type_versions=[version]) for _, name, version in types]
    out += [
        JobQuery(
            job_type_names=[TYPES[1][0], TYPES[2][0]],
            job_type_versions=[TYPES[1][1], TYPES[2][1]],
            statuses=["QUEUED", "FAILED"],
        ),
        JobQuery(job_type_names=["nope"], job_type_versions=["1.0.0"]),
        JobQuery(job_type_versions=["1.0.0"]),
        JobQuery(job_type_versions=["2.0.0", "9.9.9"]),
    ]
    return out


def mismatches(engine, types) -> list[tuple[JobQuery, int | None, int]]:
    with engine.connect() as c:
        found = [(q, count_jobs(c, q), reference(c, q, types)) for q in queries(types)]
    return [m for m in found if m[1] != m[2]]


def counter_rows(engine) -> int:
    with engine.connect() as c:
        return c.scalar(select(func.count()).select_from(JobCount))


def keys_of_jobs(engine) -> dict[tuple[int, str], int]:
    with engine.connect() as c:
        return {
            (t, s): n
            for t, s, n in c.execute(
                select(Job.job_type_id, Job.status, func.count()).group_by(Job.job_type_id, Job.status)
            )
        }


def counter_keys(engine) -> dict[tuple[int, str], int]:
    with engine.connect() as c:
        return {
            (t, s): int(n)
            for t, s, n in c.execute(
                select(JobCount.job_type_id, JobCount.status, func.sum(JobCount.n))
                .group_by(JobCount.job_type_id, JobCount.status)
                .having(func.sum(JobCount.n) != 0)
            )
        }


def test_counts_match_count_star_after_a_mix_of_writes(stores, clock, engine):
    types = add_types(stores)
    populate(stores, clock, types)
    with engine.connect() as c:
        present = set(c.scalars(select(Job.status).distinct()))
    assert present == set(JOB_STATUSES)  # the mix reaches every status
    assert mismatches(engine, types) == []
    assert counter_keys(engine) == keys_of_jobs(engine)
    with engine.connect() as c:
        assert count_jobs(c, JobQuery()) == 41
        assert count_jobs(c, JobQuery(job_types=[("nope", "1.0.0")])) == 0  # an unknown pair matches nothing


@pytest.mark.parametrize(
    "q",
    [
        JobQuery(statuses=["QUEUED"], is_superseded=False),
        JobQuery(job_ids=[1]),
        JobQuery(batch_ids=[1]),
        JobQuery(recipe_ids=[1]),
        JobQuery(error_ids=[1]),
        JobQuery(error_categories=["SYSTEM"]),
        JobQuery(started=T0),
        JobQuery(ended=T0),
        JobQuery(source_started=T0),
        JobQuery(source_ended=T0),
        JobQuery(source_sensor_classes=["x"]),
        JobQuery(source_sensors=["x"]),
        JobQuery(source_collections=["x"]),
        JobQuery(source_tasks=["x"]),
        JobQuery(is_superseded=True, job_type_ids=[1]),
    ],
)
def test_other_filters_are_left_to_count_star(engine, q):
    with engine.connect() as c:
        assert count_jobs(c, q) is None


def bulk_rows(types, revisions, count: int) -> list[dict]:
    statuses = ("QUEUED", "RUNNING", "COMPLETED", "FAILED")
    return [
        {
            "job_type_id": types[i % len(types)][0],
            "job_type_rev_id": revisions[types[i % len(types)][0]],
            "is_superseded": False,
            "status": statuses[i // 4 % 4],
            "max_tries": 3,
            "num_exes": 0,
            "priority": 100,
            "timeout": 60,
            "input": {"files": {}, "json": {"i": i}},
            "input_file_size": 0.0,
            "created": T0,
            "last_modified": T0,
        }
        for i in range(count)
    ]


def revisions_of(engine) -> dict[int, int]:
    with engine.connect() as c:
        return dict(
            c.execute(
                select(JobTypeRevision.job_type_id, func.max(JobTypeRevision.id)).group_by(JobTypeRevision.job_type_id)
            ).all()
        )


def test_core_bulk_writes_and_raw_sql_are_counted(stores, clock, engine):
    types = add_types(stores)
    populate(stores, clock, types)
    a, b = types[0][0], types[2][0]
    with engine.begin() as c:
        c.execute(insert(Job.__table__), bulk_rows(types, revisions_of(engine), 3000))  # executemany
    assert mismatches(engine, types) == []
    with engine.begin() as c:
        moved = c.execute(
            update(Job).where(Job.status == "QUEUED", Job.job_type_id == a).values(status="CANCELED")
        ).rowcount
        retyped = c.execute(
            update(Job).where(Job.status == "RUNNING", Job.job_type_id == a).values(job_type_id=b)
        ).rowcount
    assert moved > 150 and retyped > 150
    assert mismatches(engine, types) == []
    before = counter_rows(engine)
    with engine.begin() as c:  # nothing counted changes: no counter rows at all
        assert c.execute(update(Job).values(priority=Job.priority + 1, status=Job.status)).rowcount > 3000
    assert counter_rows(engine) == before
    with engine.begin() as c:
        gone = c.execute(delete(Job).where(Job.num_exes == 0, Job.status.in_(("COMPLETED", "CANCELED")))).rowcount
    assert gone > 800
    assert mismatches(engine, types) == []


def test_writers_outside_the_app_are_counted(stores, clock, engine, database_url):
    """PostgreSQL: a session with another search_path writing schema-qualified; SQLite: the stdlib module."""
    types = add_types(stores)
    jobs = populate(stores, clock, types)
    if engine.dialect.name == "postgresql":
        schema = make_url(database_url).query["options"].split("=", 1)[1]
        other = make_engine(make_url(database_url).difference_update_query(["options"]).render_as_string(False))
        with other.begin() as c:
            assert c.scalar(text("SHOW search_path")) != schema
            c.execute(text(f"UPDATE \"{schema}\".jobs SET status = 'BLOCKED' WHERE id <= :id"), {"id": jobs[5]})
            c.execute(text(f'DELETE FROM "{schema}".jobs WHERE id = :id'), {"id": jobs[-1]})
        other.dispose()
    else:
        raw = sqlite3.connect(make_url(database_url).database)
        with raw:
            raw.execute("UPDATE jobs SET status = 'BLOCKED' WHERE id <= ?", (jobs[5],))
            raw.execute("DELETE FROM jobs WHERE id = ?", (jobs[-1],))
        raw.close()
    with engine.connect() as c:
        assert count_jobs(c, JobQuery(statuses=["BLOCKED"])) == reference(c, JobQuery(statuses=["BLOCKED"]), types)
        assert count_jobs(c, JobQuery()) == 40
    assert mismatches(engine, types) == []


def test_emptying_jobs_empties_the_counts(stores, clock, engine):
    types = add_types(stores)
    populate(stores, clock, types)
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":  # TRUNCATE fires no DELETE trigger: its own trigger clears
            c.execute(text("TRUNCATE jobs CASCADE"))
        else:
            for table in ("job_input_files", "job_events", "job_executions"):
                c.execute(text(f"DELETE FROM {table}"))
            c.execute(text("UPDATE jobs SET superseded_job_id = NULL"))
            c.execute(text("DELETE FROM jobs"))
    with engine.connect() as c:
        assert count_jobs(c, JobQuery()) == 0
    assert counter_keys(engine) == {}


def flip_statuses(engine, job_ids: list[int], times: int) -> None:
    """Many small statements: each adds counter rows (two per changed job) on both databases."""
    with engine.begin() as c:
        for n in range(times):
            c.execute(
                update(Job).where(Job.id == job_ids[n % len(job_ids)]).values(status=("BLOCKED", "PENDING")[n % 2])
            )


def test_a_read_compacts_and_keeps_totals(stores, clock, engine):
    types = add_types(stores)
    jobs = populate(stores, clock, types)
    flip_statuses(engine, jobs[0:20:4], 2 * counts.COMPACT_OVER)  # jobs of types[0] only
    expected = keys_of_jobs(engine)
    rows = counter_rows(engine)
    assert rows > 2 * counts.COMPACT_OVER
    other_type = types[2][0]
    with engine.connect() as c:  # few rows summed: no compaction
        assert count_jobs(c, JobQuery(job_type_ids=[other_type])) == reference(
            c, JobQuery(job_type_ids=[other_type]), types
        )
    assert counter_rows(engine) == rows
    with engine.connect() as c:  # sums the flipped rows: compacts
        assert count_jobs(c, JobQuery()) == 41
    assert counter_rows(engine) == len(expected)  # one per key; keys summing to 0 are gone
    assert counter_keys(engine) == expected
    assert mismatches(engine, types) == []


def test_compaction_never_waits_for_a_busy_database(stores, clock, engine):
    """SQLite: another writer holds the lock -> compaction gives up at once. PostgreSQL: another transaction
    locks the counter rows -> compaction skips them. Either way reads stay exact while it lasts."""
    types = add_types(stores)
    jobs = populate(stores, clock, types)
    flip_statuses(engine, jobs[:10], 2 * counts.COMPACT_OVER)
    rows = counter_rows(engine)
    holder = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            holder.execute(select(JobCount.id).with_for_update()).all()
        else:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
        # In a thread: a compaction that waited for the lock would wait until the holder lets go, that is
        # forever, so the test would hang; joined with a generous bound instead (this one is about time).
        done: list[bool] = []
        compactor = threading.Thread(target=lambda: done.append(counts.compact(engine)), daemon=True)
        compactor.start()
        compactor.join(timeout=30)
        assert not compactor.is_alive(), "the compaction waits for the busy database"
        assert done == [engine.dialect.name == "postgresql"]  # PostgreSQL skipped every row, SQLite gave up
        assert counter_rows(engine) == rows
        assert mismatches(engine, types) == []
    finally:
        holder.rollback()
        holder.close()
    assert counts.compact(engine) is True
    assert counter_rows(engine) == len(keys_of_jobs(engine))
    assert mismatches(engine, types) == []


def upgrade_to(engine, revision: str, down: bool = False) -> None:
    config = alembic_config()
    with engine.begin() as c:
        config.attributes["connection"] = c
        (command.downgrade if down else command.upgrade)(config, revision)


def test_migration_backfills_existing_jobs_and_downgrades(database_url, clock):
    stores = Stores.open(database_url, clock)
    engine = stores.db.engine
    try:
        upgrade_to(engine, "head")
        types = add_types(stores)
        populate(stores, clock, types)
        upgrade_to(engine, "0002", down=True)  # these jobs were written before the counters existed
        with engine.begin() as c:  # and so are these, written at 0002 (the jobs table is the same)
            c.execute(insert(Job.__table__), bulk_rows(types, revisions_of(engine), 500))
        upgrade_to(engine, "head")
        assert mismatches(engine, types) == []
        assert counter_rows(engine) == len(keys_of_jobs(engine))  # one backfilled row per key
        stores.jobs.cancel_jobs(JobQuery(statuses=["QUEUED"]))  # the triggers count from here on
        assert mismatches(engine, types) == []

        upgrade_to(engine, "0002", down=True)
        with engine.connect() as c:
            assert not engine.dialect.has_table(c, "job_counts")
            if engine.dialect.name == "postgresql":
                left = c.scalar(
                    text(
                        "SELECT count(*) FROM pg_proc WHERE proname LIKE 'job_counts%' "
                        "AND pronamespace = current_schema()::regnamespace"
                    )
                )
            else:
                left = c.scalar(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"))
            assert left == 0
        with engine.begin() as c:  # writes work without the triggers (a requeue's status change; the store's
            # requeue also records a job event, a table 0002 does not have)
            c.execute(update(Job).where(Job.status.in_(["FAILED", "CANCELED"])).values(status="QUEUED"))
        upgrade_to(engine, "head")
        assert mismatches(engine, types) == []
    finally:
        engine.dispose()


@contextmanager
def snapshot(engine):
    """A connection whose statements all read one snapshot, until it is closed."""
    with engine.connect() as c:
        if engine.dialect.name == "postgresql":
            c.execution_options(isolation_level="REPEATABLE READ")
        else:
            c.exec_driver_sql("BEGIN")  # pysqlite would run each SELECT on its own otherwise
        try:
            yield c
        finally:
            c.rollback()


# Liveness of the concurrent test, counted rather than timed: it runs until this much has happened, however
# slow the machine, within a generous cap.
WRITES, READS, COMPACTIONS, CAP_SECONDS = 150, 100, 3, 180


def test_concurrent_writers_readers_and_compactions(stores, clock, engine):
    """Threads creating, starting, finishing, cancelling and requeueing jobs while others read counts (which
    compact) and compact; every read equals count(*) in the same snapshot, and so does the end. It runs until
    WRITES writes, READS checked reads and COMPACTIONS successful compactions (made while the writers write)."""
    types = add_types(stores)
    populate(stores, clock, types)
    cap = time.monotonic() + CAP_SECONDS
    errors: list[BaseException] = []
    wrong: list = []
    compactions: list[bool] = []
    writes, reads = [0], [0]
    writers_done = threading.Event()

    def enough() -> bool:
        return writes[0] >= WRITES and reads[0] >= READS and compactions.count(True) >= COMPACTIONS

    def going() -> bool:
        return not enough() and time.monotonic() < cap and not errors

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        while going():
            with engine.connect() as c:
                ids = c.scalars(select(Job.id)).all()
            pick = rng.sample(ids, min(len(ids), rng.randint(1, 6)))
            try:
                action = rng.randrange(5)
                if action == 0:
                    stores.jobs.create_job(rng.choice(types)[0], {})
                elif action == 1:
                    exe = stores.executions.start_execution(pick[0], "node-x")
                    status = rng.choice(("COMPLETED", "FAILED", "CANCELED"))
                    retried = status == "FAILED" and rng.random() < 0.5
                    stores.executions.finish_execution(exe.id, status, error={"name": "unknown"} if retried else None)
                elif action == 2:
                    stores.jobs.cancel_jobs(JobQuery(job_ids=pick))
                elif action == 3:
                    stores.jobs.requeue_jobs(JobQuery(job_ids=pick))
                else:
                    stores.jobs.cancel_jobs(JobQuery(statuses=["QUEUED"], job_type_ids=[rng.choice(types)[0]]))
                writes[0] += 1
            except (JobStateConflict, NotFound):
                pass
            except Exception as exc:
                errors.append(exc)
                return

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        qs = queries(types)
        while going() and not writers_done.is_set():
            try:
                if rng.random() < 0.1:
                    compactions.append(counts.compact(engine))
                    continue
                q = rng.choice(qs[:12])  # no filter, several values, names, pairs
                with snapshot(engine) as c:
                    got, expected = count_jobs(c, q), reference(c, q, types)
                reads[0] += 1
                if got != expected:
                    wrong.append((q, got, expected))
            except Exception as exc:
                errors.append(exc)
                return

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    readers = [threading.Thread(target=reader, args=(100 + i,)) for i in range(4)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    writers_done.set()  # a compaction counted only while the writers wrote
    for t in readers:
        t.join()
    assert errors == []
    assert wrong == []
    assert enough(), (
        f"in {CAP_SECONDS} s: {writes[0]} writes, {reads[0]} reads, "
        f"{compactions.count(True)} of {len(compactions)} compactions done"
    )
    assert mismatches(engine, types) == []
    assert counter_keys(engine) == keys_of_jobs(engine)
    assert counts.compact(engine) is True
    assert counter_rows(engine) == len(keys_of_jobs(engine))
    assert mismatches(engine, types) == []


def test_jobs_by_status_for_the_metrics_match_count_star_and_compact(stores, clock, engine):
    types = add_types(stores)
    jobs = populate(stores, clock, types)
    flip_statuses(engine, jobs[0:20:4], 2 * counts.COMPACT_OVER)
    with engine.connect() as c:
        direct = dict.fromkeys(JOB_STATUSES, 0)
        direct.update(c.execute(select(Job.status, func.count()).group_by(Job.status)).tuples().all())
    rows = counter_rows(engine)
    assert rows > 2 * counts.COMPACT_OVER
    assert stores.jobs.count_by_status() == direct
    assert sum(direct.values()) == 41
    assert counter_rows(engine) == len(keys_of_jobs(engine)) < rows  # it summed many rows: compacted
    assert stores.jobs.count_by_status() == direct
