"""Job type metrics (table job_type_metrics, migration 0013): added to when a job ends, read per hour.

record_job_end runs inside the transaction that ends the job (jobs.execution_store.finish_execution), so the
aggregates never disagree with the jobs: one upsert per ended job, adding to its type's row for that hour (counts
and sums added, minimums and maximums kept), safe when writers race (the database serializes the upserts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from jobs.db import Database
from jobs.models import JOB_TYPE_BASE_COLUMNS, JobType, JobTypeMetrics
from jobs.scaleui.metrics_catalogue import FIGURES
from jobs.statuses import ErrorCategory, JobStatus

# The figures a job adds to (the others are minimums and maximums).
_COUNTED = tuple(name for name in FIGURES if not name.endswith(("_min", "_max")))
_CATEGORY_COLUMN = {
    ErrorCategory.SYSTEM: "error_system_count",
    ErrorCategory.DATA: "error_data_count",
    ErrorCategory.ALGORITHM: "error_algorithm_count",
}
# The stored figures, in the order metrics_catalogue.fold reads them.
STORED = (JobTypeMetrics.job_type_id, JobTypeMetrics.occurred) + tuple(getattr(JobTypeMetrics, n) for n in FIGURES)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def record_job_end(
    s: Session,
    job_type_id: int,
    status: str,
    category: str | None,
    queued: datetime | None,
    started: datetime | None,
    ended: datetime,
) -> None:
    """Count a job that just reached COMPLETED or FAILED, with its last execution's queue and run times."""
    queue = (started - queued).total_seconds() if queued and started else None
    run = (ended - started).total_seconds() if started else None
    values: dict = dict.fromkeys(_COUNTED, 0)
    values.update(job_type_id=job_type_id, occurred=hour_of(ended))
    if status == JobStatus.COMPLETED:
        values["completed_count"] = 1
    else:
        values["failed_count"] = 1
        if category in _CATEGORY_COLUMN:
            values[_CATEGORY_COLUMN[ErrorCategory(category)]] = 1
    for name, seconds in (("queue", queue), ("run", run)):
        if seconds is not None:
            values.update({f"{name}_count": 1, f"{name}_time_sum": seconds})
        values.update({f"{name}_time_min": seconds, f"{name}_time_max": seconds})
    postgres = s.get_bind().dialect.name == "postgresql"
    insert = (postgresql.insert if postgres else sqlite.insert)(JobTypeMetrics).values(**values)
    table, new = JobTypeMetrics.__table__.c, insert.excluded
    # Two-argument least/greatest: PostgreSQL's own; SQLite's min() and max() are those with two arguments.
    least, greatest = (func.least, func.greatest) if postgres else (func.min, func.max)
    changes: dict = {name: table[name] + new[name] for name in _COUNTED}
    for name in ("queue", "run"):
        low, high = f"{name}_time_min", f"{name}_time_max"
        changes[low] = least(func.coalesce(table[low], new[low]), func.coalesce(new[low], table[low]))
        changes[high] = greatest(func.coalesce(table[high], new[high]), func.coalesce(new[high], table[high]))
    s.execute(insert.on_conflict_do_update(index_elements=["job_type_id", "occurred"], set_=changes))


class MetricsStore:
    def __init__(self, db: Database):
        self._db = db

    def choices(self) -> list:
        """The job types metrics can be filtered by (Scale's "choices"): every job type, by name and version."""
        with self._db.engine.connect() as c:
            return list(c.execute(select(*JOB_TYPE_BASE_COLUMNS).order_by(JobType.name, JobType.version, JobType.id)))

    def hourly(self, started: datetime | None, ended: datetime | None, job_type_ids: Sequence[int] | None) -> list:
        """The stored rows (STORED's columns) of the hours that start in [hour of started, ended), oldest first."""
        with self._db.engine.connect() as c:
            return list(c.execute(hourly_statement(started, ended, job_type_ids)))


def hourly_statement(started: datetime | None, ended: datetime | None, job_type_ids: Sequence[int] | None) -> Select:
    """The rows of a plot's window, on ix_job_type_metrics_occurred (job type ids filter the range it reads)."""
    conditions: list[ColumnElement[bool]] = []
    if started is not None:
        conditions.append(JobTypeMetrics.occurred >= hour_of(started))
    if ended is not None:
        conditions.append(JobTypeMetrics.occurred < ended)
    if job_type_ids is not None:
        conditions.append(JobTypeMetrics.job_type_id.in_(job_type_ids))
    return select(*STORED).where(*conditions).order_by(JobTypeMetrics.occurred, JobTypeMetrics.job_type_id)
