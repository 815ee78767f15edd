"""How each job type is doing, as Scale's UI shows it: job counts by status and error category over a window
(GET /v6/job-types/status/, the dashboard), the running jobs per type (/v6/job-types/running/) and the queue per
type (/v6/queue/status/).

Every read is on an index: the window on ix_jobs_last_status_change (migration 0011), RUNNING and QUEUED jobs on
the status-led indexes (ix_jobs_status_last_modified, ix_jobs_queue). Job types come one page at a time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select

from jobs import counts
from jobs.db import Database
from jobs.models import JOB_TYPE_BASE_COLUMNS, Error, Job, JobType
from jobs.records import JobQuery, JobTypeCounts, JobTypeStatusCount, QueuedJobType, RunningJobType
from jobs.statuses import JobStatus


class JobTypeStatusStore:
    def __init__(self, db: Database):
        self._db = db

    def job_type_counts(
        self, started: datetime, ended: datetime | None, is_active: bool | None, offset: int, limit: int
    ) -> tuple[int, list[JobTypeCounts]]:
        """One page of job types (Scale's order: last_modified), each with its jobs counted by (status, error
        category): every RUNNING job, and the jobs of other statuses whose status last changed in [started,
        ended]; with the latest such change of each group."""
        conditions: list[ColumnElement[bool]] = []
        if is_active is not None:
            conditions.append(JobType.is_active == is_active)
        with self._db.engine.connect() as c:
            total = c.execute(select(func.count()).select_from(JobType).where(*conditions)).scalar_one()
            types = list(
                c.execute(
                    select(*JOB_TYPE_BASE_COLUMNS)
                    .where(*conditions)
                    .order_by(JobType.last_modified, JobType.id)
                    .offset(offset)
                    .limit(limit)
                )
            )
            ids = [t.id for t in types]
            found: dict[int, list[JobTypeStatusCount]] = {i: [] for i in ids}
            for statement in counted(started, ended):
                for row in c.execute(statement):
                    if row.job_type_id not in found:  # a type on another page
                        continue
                    found[row.job_type_id].append(JobTypeStatusCount(row.status, row.n, row.most_recent, row.category))
        # NULL categories sort differently per database: order here (status, then category, none first).
        return total, [JobTypeCounts(t, sorted(found[t.id], key=_count_order)) for t in types]

    def running(self, offset: int, limit: int) -> tuple[int, list[RunningJobType]]:
        """Job types with RUNNING jobs: how many, and when the longest running one started (its status change);
        longest running first."""
        per_type = running_per_type().subquery()
        rows = select(*JOB_TYPE_BASE_COLUMNS, per_type.c.n, per_type.c.longest).join(
            per_type, per_type.c.job_type_id == JobType.id
        )
        with self._db.engine.connect() as c:
            total = c.execute(select(func.count()).select_from(per_type)).scalar_one()
            page = c.execute(rows.order_by(per_type.c.longest, JobType.id).offset(offset).limit(limit))
            return total, [RunningJobType(r, r.n, r.longest) for r in page]

    def queued(self, offset: int, limit: int) -> tuple[int, list[QueuedJobType]]:
        """Job types with QUEUED jobs: how many, the longest queued, the highest priority (the lowest number);
        Scale's order: unpaused types first, then by that priority, then the longest queued."""
        per_type = queued_per_type().subquery()
        rows = select(*JOB_TYPE_BASE_COLUMNS, per_type.c.n, per_type.c.longest, per_type.c.highest_priority).join(
            per_type, per_type.c.job_type_id == JobType.id
        )
        order = (JobType.is_paused, per_type.c.highest_priority, per_type.c.longest, JobType.id)
        with self._db.engine.connect() as c:
            total = c.execute(select(func.count()).select_from(per_type)).scalar_one()
            page = c.execute(rows.order_by(*order).offset(offset).limit(limit))
            return total, [QueuedJobType(r, r.n, r.longest, r.highest_priority) for r in page]

    def load_now(self, job_type_ids: list[int] | None) -> dict[str, int]:
        """How many jobs (of these types) are PENDING, QUEUED and RUNNING now, from the job counters."""
        with self._db.engine.connect() as c:
            return {
                status: counts.count_jobs(c, JobQuery(statuses=[status], job_type_ids=job_type_ids)) or 0
                for status in (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RUNNING)
            }


def _count_order(count: JobTypeStatusCount) -> tuple[str, str]:
    return count.status, count.category or ""


def counted(started: datetime, ended: datetime | None) -> tuple[Select, Select]:
    """The two reads of the dashboard's counts, each on its own index (an OR of both would scan every job): the
    RUNNING jobs (status), and the jobs of other statuses whose status changed in the window (last_status_change).
    Every job type's: a condition on the page's types would let the planner read all their jobs instead."""
    window = [Job.last_status_change >= started, Job.status != JobStatus.RUNNING]
    if ended is not None:
        window.append(Job.last_status_change <= ended)
    return _counted([Job.status == JobStatus.RUNNING]), _counted(window)


def running_per_type() -> Select:
    return (
        select(Job.job_type_id, func.count().label("n"), func.min(Job.last_status_change).label("longest"))
        .where(Job.status == JobStatus.RUNNING)
        .group_by(Job.job_type_id)
    )


def queued_per_type() -> Select:
    return (
        select(
            Job.job_type_id,
            func.count().label("n"),
            func.min(Job.queued).label("longest"),
            func.min(Job.priority).label("highest_priority"),
        )
        .where(Job.status == JobStatus.QUEUED)
        .group_by(Job.job_type_id)
    )


def _counted(conditions: list[ColumnElement[bool]]) -> Select:
    key = (Job.job_type_id, Job.status, Error.category)
    return (
        select(*key, func.count().label("n"), func.max(Job.last_status_change).label("most_recent"))
        .outerjoin(Error, Error.id == Job.error_id)
        .where(*conditions)
        .group_by(*key)
    )
