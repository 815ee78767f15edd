"""The job databases of the benchmark, built once per (size, generator version) and kept between runs.

SQLite: data/bench/jobs-<n>.db. PostgreSQL: one database per size on the bench server (scale_bench_<n>). A table
`bench_dataset` in each records the size and GENERATOR_VERSION it was built with: a database whose record differs
(or is missing: a build that did not finish) is wiped and built again.

Loading: the job count triggers (migration 0003) are switched off while the rows go in, and `job_counts` is
rebuilt from the jobs once at the end (the README's recipe), as a restore would do: a per-row trigger doubles
SQLite's insert time and leaves PostgreSQL one counter row per job of an executemany. PostgreSQL takes the rows
with COPY; SQLite with executemany in large transactions. Rows come from bench.data.job_rows (fixed seeds).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select, text

from bench import data
from bench.harness import log

GENERATOR_VERSION = 3  # bump when bench.data.job_rows or the reference rows below change
_meta = MetaData()
DATASET = Table(
    "bench_dataset", _meta, Column("jobs", Integer), Column("version", Integer), Column("note", String(200))
)
CHUNK = 20_000


def signature(engine: Engine) -> tuple | None:
    with engine.connect() as c:
        if not engine.dialect.has_table(c, "bench_dataset"):
            return None
        row = c.execute(select(DATASET.c.jobs, DATASET.c.version)).first()
    return tuple(row) if row else None


def _wipe(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("DROP SCHEMA public CASCADE"))
            c.execute(text("CREATE SCHEMA public"))
    else:
        path = Path(engine.url.database or "")
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def build(url: str, count: int) -> dict:
    """Make sure the database at `url` holds our `count` jobs; returns how long building took (0 if reused)."""
    from jobs.db import make_engine, upgrade

    engine = make_engine(url)
    if signature(engine) == (count, GENERATOR_VERSION):
        upgrade(engine)  # a cached database still gets migrations (indexes) added since it was built
        engine.dispose()
        return {"built_seconds": 0, "reused": True}
    log(f"building {count:,} jobs in {engine.dialect.name}")
    began = time.monotonic()
    _wipe(engine)
    engine = make_engine(url)
    upgrade(engine)
    refs = _reference_rows(engine)
    rows = data.job_rows(count, *refs)
    if engine.dialect.name == "postgresql":
        _load_postgres(engine, rows)
    else:
        _load_sqlite(engine, rows)
    with engine.begin() as c:
        # The counters, as the triggers would have left them (README: rebuilding job_counts).
        c.execute(text("DELETE FROM job_counts"))
        c.execute(
            text(
                "INSERT INTO job_counts (job_type_id, status, n) "
                "SELECT job_type_id, status, count(*) FROM jobs GROUP BY job_type_id, status"
            )
        )
        c.execute(text("ANALYZE"))
        DATASET.create(c, checkfirst=True)
        c.execute(DATASET.delete())
        c.execute(insert(DATASET).values(jobs=count, version=GENERATOR_VERSION, note="bench/jobs_data.py"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))  # sets the visibility map: index-only counts
    engine.dispose()
    seconds = round(time.monotonic() - began, 1)
    log(f"built {count:,} jobs in {seconds} s ({count / seconds:,.0f} rows/s)")
    return {"built_seconds": seconds, "reused": False, "insert_rows_per_s": round(count / seconds)}


def _reference_rows(engine: Engine) -> tuple[list, list, list, list, list]:
    """Job types (with 1-3 versions), nodes, trigger events, batches: (type_revs, nodes, errors, events, batches)."""
    from sqlalchemy.orm import sessionmaker

    from jobs.db import Database
    from jobs.job_type_store import JobTypeStore
    from jobs.models import Batch, Error, JobTypeRevision, Node, TriggerEvent

    job_types = JobTypeStore(Database(engine, sessionmaker(engine, expire_on_commit=False)), lambda: data.JOBS_BASE)
    type_ids = []
    for t in range(data.JOB_TYPES):
        for v in range(1 + t % 3):
            row, _ = job_types.save_job_type(f"bench-type-{t:02d}:{v}", data.manifest(f"type-{t:02d}", f"1.{v}.0"))
            type_ids.append(row.id)
    with engine.begin() as c:
        revs: dict[int, int] = dict(
            c.execute(
                select(JobTypeRevision.job_type_id, func.max(JobTypeRevision.id)).group_by(JobTypeRevision.job_type_id)
            )
            .tuples()
            .all()
        )
        now = data.JOBS_BASE
        c.execute(
            insert(Node), [{"hostname": f"node-{i:02d}", "created": now, "last_modified": now} for i in range(20)]
        )
        c.execute(
            insert(TriggerEvent), [{"type": "PARSE", "description": {"n": i}, "occurred": now} for i in range(1000)]
        )
        c.execute(insert(Batch), [{"title": f"batch {i}", "created": now, "last_modified": now} for i in range(50)])
        node_ids = list(c.scalars(select(Node.id)))
        event_ids = list(c.scalars(select(TriggerEvent.id)))
        batch_ids = list(c.scalars(select(Batch.id)))
        error_ids = list(c.scalars(select(Error.id)))
    return [(t, revs[t]) for t in type_ids], node_ids, error_ids, event_ids, batch_ids


def _load_postgres(engine: Engine, rows) -> None:
    from psycopg.types.json import Json

    from jobs.models import Job

    columns: list[str] = []
    with engine.begin() as c:
        c.exec_driver_sql("ALTER TABLE jobs DISABLE TRIGGER USER")  # the count triggers (constraints stay on)
    try:
        raw: Any = engine.raw_connection()
        try:
            cursor = raw.cursor()
            pending: list[dict] = []

            def flush() -> None:
                nonlocal columns
                if not pending:
                    return
                columns = columns or list(pending[0])
                with cursor.copy(f"COPY jobs ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in pending:
                        copy.write_row([Json(row[k]) if isinstance(row[k], dict) else row[k] for k in columns])
                raw.commit()
                pending.clear()

            for row in rows:
                pending.append(row)
                if len(pending) == CHUNK * 5:
                    flush()
            flush()
        finally:
            raw.close()
    finally:
        with engine.begin() as c:
            c.exec_driver_sql("ALTER TABLE jobs ENABLE TRIGGER USER")
    assert set(columns) <= set(Job.__table__.c.keys())


def _load_sqlite(engine: Engine, rows) -> None:
    from jobs.models import Job

    with engine.begin() as c:
        trigger_sql = c.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'job_counts_insert'")
        ).scalar_one()
        c.execute(text("DROP TRIGGER job_counts_insert"))
    try:
        with engine.connect() as c:
            c.exec_driver_sql("PRAGMA cache_size = -1000000")  # 1 GB of pages: ~20 indexes take random inserts
            c.exec_driver_sql("PRAGMA synchronous = OFF")
            pending: list[dict] = []
            for row in rows:
                pending.append(row)
                if len(pending) == CHUNK * 5:
                    c.execute(insert(Job), pending)
                    c.commit()
                    pending.clear()
            if pending:
                c.execute(insert(Job), pending)
                c.commit()
    finally:
        with engine.begin() as c:
            c.execute(text(trigger_sql))  # exactly the trigger migration 0003 made
