"""Measure 4: the job list (five representative requests, page_size=100) over N jobs, on SQLite and PostgreSQL,
next to the plain SQL for each request written directly in SQLAlchemy Core and run in process: the exact count
and one SELECT joining what a list item shows. The count is read the way the API reads it: from the job
counters (job_counts, kept by triggers) for the requests they answer (no filter, a status, any order), by
count(*) otherwise; count(*) of the counter-answered requests is reported beside it (raw_count_star_p50_ms), not
used in the ratio. On PostgreSQL the raw page SELECT is planned with the joins in written order (SET LOCAL
join_collapse_limit = 1), as the API's is: searching join orders for seven tables costs ~14 ms of planning
for ~1 ms of execution, which would make raw no limit at all. The API answers over HTTP, a page as ids then
rows.

Ours is checked against raw on every request: the same count, and the same job ids in the same order on the
page (every distinct body ours returned is compared); count(*) must equal the counters' count too.

The job databases are built by bench/jobs_data.py and kept between runs (keyed by size and generator version).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import aliased

from bench import data
from bench.harness import Client, Gunicorn, log
from bench.stats import interleaved_latencies, median, ratio, summary_ms

# --- the five requests, and the same queries bare --------------------------------------------------------

WINDOW_START = data.JOBS_BASE + timedelta(days=60)
WINDOW_END = WINDOW_START + timedelta(days=7)


def requests() -> dict[str, dict]:
    """name -> query parameters of the API request."""
    return {
        "no_filter": {},
        "status": {"status": "FAILED"},
        "job_type_name_and_window": {
            "job_type_name": "type-03",
            "started": _iso(WINDOW_START),
            "ended": _iso(WINDOW_END),
        },
        "source_filters": {"source_sensor_class": "class-1", "source_collection": "collection-3"},
        "order_duration": {"order": "-duration"},
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The requests the API counts from job_counts (jobs/counts.py answers statuses, job types and order only).
COUNTED_BY_COUNTERS = {"no_filter", "status", "order_duration"}


def bare_query(name: str, postgres: bool):
    """(count statement, count(*) statement, page statement) for the request, written directly in SQLAlchemy
    Core: the count (from the counters where the API reads them, see COUNTED_BY_COUNTERS), and one SELECT that
    joins what a job item shows (job type, revision, event, node, error, batch)."""
    from jobs.models import Batch, Error, Job, JobCount, JobType, JobTypeRevision, Node, TriggerEvent

    j = Job.__table__
    where: list[ColumnElement[bool]] = []
    counter_where: list[ColumnElement[bool]] = []
    order = [j.c.last_modified.asc(), j.c.id.asc()]
    if name == "status":
        where.append(j.c.status.in_(["FAILED"]))
        counter_where.append(JobCount.__table__.c.status.in_(["FAILED"]))
    elif name == "job_type_name_and_window":
        where += [
            j.c.last_modified >= WINDOW_START,
            j.c.last_modified <= WINDOW_END,
            j.c.job_type_id.in_(select(JobType.__table__.c.id).where(JobType.__table__.c.name.in_(["type-03"]))),
        ]
    elif name == "source_filters":
        where += [j.c.source_sensor_class.in_(["class-1"]), j.c.source_collection.in_(["collection-3"])]
    elif name == "order_duration":
        if postgres:
            duration = j.c.ended - j.c.started
            order = [duration.desc().nulls_first(), j.c.id.asc()]
        else:  # SQLite uses an expression index only without an explicit NULLS clause
            duration = func.julianday(j.c.ended) - func.julianday(j.c.started)
            order = [duration.is_(None).desc(), duration.desc(), j.c.id.asc()]
    t, r, e, n, err, b = (aliased(m.__table__) for m in (JobType, JobTypeRevision, TriggerEvent, Node, Error, Batch))
    count_star = select(func.count()).select_from(j).where(*where)
    counters = JobCount.__table__
    count = (
        select(func.coalesce(func.sum(counters.c.n), 0)).where(*counter_where)
        if name in COUNTED_BY_COUNTERS
        else count_star
    )
    page = (
        select(
            j,
            t.c.name,
            t.c.version,
            t.c.title,
            t.c.description,
            t.c.is_active,
            t.c.is_paused,
            t.c.is_system,
            t.c.is_published,
            t.c.icon_code,
            t.c.unmet_resources,
            r.c.revision_num,
            e.c.type,
            e.c.occurred,
            n.c.hostname,
            err.c.name,
            err.c.title,
            err.c.description,
            err.c.category,
            b.c.title,
            b.c.description,
            b.c.created,
        )
        .select_from(
            j.join(t, t.c.id == j.c.job_type_id)
            .join(r, r.c.id == j.c.job_type_rev_id)
            .outerjoin(e, e.c.id == j.c.event_id)
            .outerjoin(n, n.c.id == j.c.node_id)
            .outerjoin(err, err.c.id == j.c.error_id)
            .outerjoin(b, b.c.id == j.c.batch_id)
        )
        .where(*where)
        .order_by(*order)
        .limit(100)
    )
    return count, count_star, page


def measure(url: str, count: int, env: dict, repeat: int, budget_s: float, log_dir: Path) -> dict:
    """Figures of the five requests on the database at `url` (built if needed)."""
    from bench.jobs_data import build
    from jobs.db import make_engine
    from jobs.models import Job

    built = build(url, count)
    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    out: dict = {"jobs": count, **built, "requests": {}}
    with Gunicorn(dict(env, DATABASE_URL=url), workers=2, log_dir=log_dir) as api:
        client = Client(api.url)
        for name, params in requests().items():
            path = "/v6/jobs/?" + urlencode({**params, "page_size": 100})
            count_stmt, star_stmt, page_stmt = bare_query(name, postgres)
            ours_bodies: dict[int, bytes] = {}  # distinct bodies ours returned
            bare_seen: set[tuple[int, tuple[int, ...]]] = set()
            parts: dict[str, list[float]] = {"count": [], "page": []}

            def ours():
                status, body = client.get(path)
                if status != 200:
                    raise RuntimeError(f"{path}: {status} {body[:300]!r}")
                ours_bodies.setdefault(hash(body), body)

            def bare():
                with engine.connect() as c:
                    t0 = time.perf_counter()
                    total = c.execute(count_stmt).scalar_one()
                    t1 = time.perf_counter()
                    if postgres:  # plan the joins in written order, as the API does (see jobs/listing.py):
                        c.exec_driver_sql("SET LOCAL join_collapse_limit = 1")  # else planning is ~90 % of it
                    rows = c.execute(page_stmt).all()
                    t2 = time.perf_counter()
                parts["count"].append((t1 - t0) * 1000)
                parts["page"].append((t2 - t1) * 1000)
                bare_seen.add((int(total), tuple(row._mapping[Job.__table__.c.id] for row in rows)))

            samples = interleaved_latencies({"ours": ours, "bare": bare}, repeat, warmup=2, budget_s=budget_s)
            # Ours against raw: one answer on each side, the same count and the same jobs in the same order.
            if len(bare_seen) != 1:
                raise RuntimeError(f"jobs {name}: bare answered {len(bare_seen)} different results")
            total, ids = next(iter(bare_seen))
            ours_counts = set()
            for body in ours_bodies.values():
                doc = json.loads(body)
                got = [item["id"] for item in doc["results"]]
                ours_counts.add(doc["count"])
                if doc["count"] != total or got != list(ids):
                    raise RuntimeError(
                        f"jobs {name}: ours count {doc['count']} ids {got[:5]}.., "
                        f"bare count {total} ids {list(ids)[:5]}.."
                    )
            star = []
            for _ in range(3 if name in COUNTED_BY_COUNTERS else 0):  # informational, and a check of the counters
                with engine.connect() as c:
                    t0 = time.perf_counter()
                    counted = c.execute(star_stmt).scalar()
                    star.append((time.perf_counter() - t0) * 1000)
                if counted != total:
                    raise RuntimeError(f"jobs {name}: count(*) {counted} != counters {total}")
            o, b = summary_ms(samples["ours"]), summary_ms(samples["bare"])
            out["requests"][name] = {
                "path": path,
                "matched": total,
                "ours": o,
                "raw": b,
                "raw_count_from": "job_counts" if name in COUNTED_BY_COUNTERS else "count(*)",
                "raw_parts_p50_ms": {k: round(median(v), 2) for k, v in parts.items()},
                "raw_count_star_p50_ms": round(median(star), 2) if star else None,
                "cross_check": {
                    "ours_count": sorted(ours_counts),
                    "raw_count": total,
                    "page_ids_equal": True,
                    "page_rows": len(ids),
                    "distinct_ours_bodies": len(ours_bodies),
                },
                "ratio_p50": ratio(o["p50_ms"], b["p50_ms"]),
                "ratio_p99": ratio(o["p99_ms"], b["p99_ms"]),
            }
            log(
                f"jobs {engine.dialect.name} {name}: ours p50 {o['p50_ms']} ms, bare p50 {b['p50_ms']} ms, "
                f"{total} matched"
            )
        out["client_resends"] = client.resends
        client.close()
    engine.dispose()
    reqs = out["requests"].values()
    out["worst_ratio_p50"] = max(r["ratio_p50"] for r in reqs)
    out["median_ratio_p50"] = round(median([r["ratio_p50"] for r in reqs]), 3)
    out["worst_ours_p50_ms"] = max(r["ours"]["p50_ms"] for r in reqs)
    return out
