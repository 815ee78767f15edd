"""What this service knows of its system, for GET /v6/status/: the nodes it has seen, what runs and ran on them,
and how many jobs are in each status. One connection; cheap enough to be polled (Scale's UI polls every
five seconds): running executions by their status index, recent ends by the ended index (migration 0006), job
counts from the counters (jobs/counts.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from jobs import counts
from jobs.db import Database
from jobs.models import Error, JobExecution, JobType, Node
from jobs.records import ExecutionCount, StatusReport
from jobs.statuses import ExecutionStatus

FINISHED = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)  # the ended executions reported (not CANCELED)
# What the report shows of a job type (Scale's status "job_types" entries).
JOB_TYPE_BASE = (
    JobType.id,
    JobType.name,
    JobType.version,
    JobType.title,
    JobType.description,
    JobType.is_system,
    JobType.icon_code,
)


class StatusStore:
    def __init__(self, db: Database):
        self._db = db

    def report(self, ended_since: datetime) -> StatusReport:
        """Nodes by hostname; executions RUNNING, and those that ended COMPLETED or FAILED at or after
        `ended_since`, counted by node, job type, status and error category."""
        key = (JobExecution.node_id, JobExecution.job_type_id, JobExecution.status, Error.category)
        counted = select(*key, func.count()).outerjoin(Error, Error.id == JobExecution.error_id).group_by(*key)
        # Two reads, each on its own index: the status of the running ones, the end time of the recent ones
        # (a status condition there would let SQLite pick the status index and visit every finished execution).
        running = counted.where(JobExecution.status == ExecutionStatus.RUNNING, JobExecution.node_id.is_not(None))
        ended = counted.where(JobExecution.ended >= ended_since, JobExecution.node_id.is_not(None))
        with self._db.engine.connect() as c:
            nodes = [(n.id, n.hostname) for n in c.execute(select(Node.id, Node.hostname).order_by(Node.hostname))]
            found = [ExecutionCount(*row) for row in c.execute(running)]
            found += [ExecutionCount(*row) for row in c.execute(ended) if row[2] in FINISHED]
            job_counts = counts.counts_by_status(c)
            type_ids = sorted({e.job_type_id for e in found})
            job_types = list(c.execute(select(*JOB_TYPE_BASE).where(JobType.id.in_(type_ids)).order_by(JobType.id)))
        return StatusReport(nodes, found, job_counts, job_types)
