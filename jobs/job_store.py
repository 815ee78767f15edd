"""Jobs: the list, one job's details and input files, queueing a new job, cancel and requeue.

State changes are single conditional UPDATEs (WHERE status = ...), so two requests racing cannot both apply;
on PostgreSQL rows are locked job first, then execution, everywhere, so racing writers cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from core.times import Clock
from jobs import counts, listing, seed
from jobs.db import Database
from jobs.errors import Invalid, NotFound
from jobs.execution_store import EXECUTION_LOAD
from jobs.file_store import FILE_LOAD
from jobs.filters import job_conditions
from jobs.models import Job, JobEvent, JobExecution, JobInputFile, JobType, JobTypeRevision, ScaleFile, TriggerEvent
from jobs.records import InputFileQuery, JobDetail, JobQuery
from jobs.statuses import ExecutionStatus, JobStatus
from jobs.workspaces import check_workspaces

MIB = 1024 * 1024
# A job's details show the execution of its current try (exe_num == num_exes), for these statuses only (Scale's
# rule); so a job just requeued (num_exes raised) shows none until its next try starts.
SHOWS_EXECUTION = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED)
# Who queued a job when no person did (the jobs that tools and tests create).
DEFAULT_USER = "API"


class JobStore:
    def __init__(self, db: Database, clock: Clock):
        self._db = db
        self._sessions = db.sessions
        self._clock = clock

    def list_jobs(
        self, q: JobQuery, offset: int, limit: int, bound: int | None = None
    ) -> tuple[int, list[tuple[RowMapping, dict]]]:
        """The total count and one page of (job, its input file names by input); jobs as jobs.listing reads them.
        `bound`: how many jobs the request may cost reading (listing.page_of_jobs), None for no limit."""
        with self._db.engine.connect() as c:
            count, jobs, files = listing.page_of_jobs(c, q, offset, limit, self._db.postgres, bound)
        return count, [(job, files[job["id"]]) for job in jobs]

    def count_by_status(self) -> dict[str, int]:
        """How many jobs have each status (statuses without jobs are left out), from the job counters."""
        with self._db.engine.connect() as c:
            return counts.counts_by_status(c)

    def get_job(self, job_id: int) -> JobDetail | None:
        with self._db.engine.connect() as c:
            row = listing.job_row(c, job_id)
            if row is None:
                return None
            files = listing.input_files(c, [job_id])[job_id]
            versions = c.scalars(select(JobType.version).where(JobType.name == row["job_type__name"])).all()
            execution = None
            if row["status"] in SHOWS_EXECUTION:
                with self._sessions(bind=c) as s:  # the same connection: one pool checkout per details read
                    execution = s.scalar(
                        select(JobExecution)
                        .where(JobExecution.job_id == job_id, JobExecution.exe_num == row["num_exes"])
                        .options(*EXECUTION_LOAD)
                    )
        return JobDetail(row, files, execution, len(versions), max(versions, key=_version_key))

    def create_job(
        self,
        job_type_id: int,
        input: Any,
        configuration: Any = None,
        *,
        recipe_id: int | None = None,
        batch_id: int | None = None,
        superseded_job_id: int | None = None,
        event_type: str = "USER",
        user: str = DEFAULT_USER,
    ) -> int:
        """Queue a new job, checking in Scale's order; raises Invalid (400) or NotFound (404). Returns its id.

        Its trigger event (USER) records who queued it: {"user": <username>}."""
        data = seed.normalized_data(input)
        now = self._clock()
        with self._sessions.begin() as s:
            job_type = s.get(JobType, job_type_id)
            if job_type is None:
                raise NotFound(f"job type {job_type_id}")
            if not job_type.is_active:
                raise Invalid(f'Job type "{job_type.name}" version "{job_type.version}" is not active')
            if configuration is not None:
                seed.check_configuration(configuration)
                check_workspaces(s, configuration)
            file_ids = sorted({i for ids in data["files"].values() for i in ids})
            files = {f.id: f for f in s.scalars(select(ScaleFile).where(ScaleFile.id.in_(file_ids)))}
            seed.check_job_data(job_type.manifest, data, set(files))
            configuration = seed.without_secrets(configuration, job_type.manifest)
            revision_id = s.scalar(
                select(JobTypeRevision.id).where(
                    JobTypeRevision.job_type_id == job_type.id, JobTypeRevision.revision_num == job_type.revision_num
                )
            )
            description = {"user": user} if event_type == "USER" else {}
            event = TriggerEvent(type=event_type, description=description, occurred=now)
            s.add(event)
            s.flush()
            merged = seed.effective_configuration(job_type.configuration, configuration)
            job = Job(
                job_type_id=job_type.id,
                job_type_rev_id=revision_id,
                event_id=event.id,
                recipe_id=recipe_id,
                batch_id=batch_id,
                is_superseded=False,
                superseded_job_id=superseded_job_id,
                status=JobStatus.QUEUED,
                max_tries=job_type.max_tries,
                num_exes=1,
                priority=merged["priority"],
                timeout=job_type.timeout,
                input=data,
                configuration=configuration,
                input_file_size=sum(f.file_size for f in files.values()) / MIB,
                **_source_fields(list(files.values())),
                created=now,
                queued=now,
                last_status_change=now,
                last_modified=now,
            )
            s.add(job)
            s.flush()
            for name, ids in data["files"].items():
                for file_id in ids:
                    s.add(JobInputFile(job_id=job.id, input_file_id=file_id, job_input=name, created=now))
            if superseded_job_id is not None:
                s.execute(
                    update(Job)
                    .where(Job.id == superseded_job_id)
                    .values(is_superseded=True, superseded=now, last_modified=now)
                    .execution_options(synchronize_session=False)
                )
            return job.id

    def input_files(
        self, job_id: int, q: InputFileQuery, offset: int, limit: int
    ) -> tuple[int, list[ScaleFile]] | None:
        """The job's input files, ordered by last_modified; None if the job does not exist."""
        links = select(JobInputFile.input_file_id).where(JobInputFile.job_id == job_id)
        if q.job_inputs is not None:
            links = links.where(JobInputFile.job_input.in_(q.job_inputs))
        conditions: list[ColumnElement[bool]] = [ScaleFile.id.in_(links)]
        start, end = {
            "source": (ScaleFile.source_started, ScaleFile.source_ended),
            "data": (ScaleFile.data_started, ScaleFile.data_ended),
            "last_modified": (ScaleFile.last_modified, ScaleFile.last_modified),
        }[q.time_field]
        if q.started is not None:
            conditions.append(start >= q.started)
        if q.ended is not None:
            conditions.append(end <= q.ended)
        if q.file_names is not None:
            conditions.append(ScaleFile.file_name.in_(q.file_names))
        with self._sessions() as s:
            if s.get(Job, job_id) is None:
                return None
            count = s.execute(select(func.count()).select_from(ScaleFile).where(*conditions)).scalar_one()
            rows = s.scalars(
                select(ScaleFile)
                .where(*conditions)
                .options(*FILE_LOAD)
                .order_by(ScaleFile.last_modified, ScaleFile.id)
                .offset(offset)
                .limit(limit)
            ).all()
        return count, list(rows)

    def cancel_jobs(self, q: JobQuery, user: str = DEFAULT_USER) -> int:
        """Cancel every matching job not COMPLETED or CANCELED; their running executions end CANCELED.

        Each canceled job gets a CANCEL event recording who did it ({"user": <username>})."""
        now = self._clock()
        with self._sessions.begin() as s:
            canceled_ids = s.scalars(
                update(Job)
                .where(*job_conditions(s, q), Job.status.not_in((JobStatus.COMPLETED, JobStatus.CANCELED)))
                .values(
                    status=JobStatus.CANCELED,
                    error_id=None,
                    node_id=None,
                    last_status_change=now,
                    last_modified=now,
                )
                .returning(Job.id)
                .execution_options(synchronize_session=False)
            ).all()
            _record_event(s, "CANCEL", user, canceled_ids, now)
            canceled = select(Job.id).where(Job.status == JobStatus.CANCELED)
            s.execute(
                update(JobExecution)
                .where(JobExecution.status == ExecutionStatus.RUNNING, JobExecution.job_id.in_(canceled))
                .values(status=ExecutionStatus.CANCELED, ended=now, last_modified=now)
                .execution_options(synchronize_session=False)
            )
        return len(canceled_ids)

    def requeue_jobs(self, q: JobQuery, priority: int | None = None, user: str = DEFAULT_USER) -> int:
        """Queue again every matching FAILED or CANCELED job that is not superseded; each gets a REQUEUE event
        recording who did it."""
        now = self._clock()
        type_tries = select(JobType.max_tries).where(JobType.id == Job.job_type_id).scalar_subquery()
        values: dict[str, Any] = dict(
            status=JobStatus.QUEUED,
            num_exes=Job.num_exes + 1,
            max_tries=Job.num_exes + type_tries,
            queued=now,
            started=None,
            ended=None,
            error_id=None,
            node_id=None,
            last_status_change=now,
            last_modified=now,
        )
        if priority is not None:
            values["priority"] = priority
        with self._sessions.begin() as s:
            requeued_ids = s.scalars(
                update(Job)
                .where(
                    *job_conditions(s, q),
                    Job.status.in_((JobStatus.FAILED, JobStatus.CANCELED)),
                    Job.is_superseded.is_(False),
                )
                .values(**values)
                .returning(Job.id)
                .execution_options(synchronize_session=False)
            ).all()
            _record_event(s, "REQUEUE", user, requeued_ids, now)
        return len(requeued_ids)

    def job_events(self, job_id: int) -> list[TriggerEvent]:
        """The events of the job, oldest first: the one that created it, then every cancel and requeue."""
        changed = select(JobEvent.event_id).where(JobEvent.job_id == job_id)
        created = select(Job.event_id).where(Job.id == job_id)
        with self._sessions() as s:
            return list(
                s.scalars(
                    select(TriggerEvent)
                    .where(TriggerEvent.id.in_(changed) | TriggerEvent.id.in_(created))
                    .order_by(TriggerEvent.occurred, TriggerEvent.id)
                )
            )


def _record_event(s: Session, event_type: str, user: str, job_ids: Sequence[int], now: datetime) -> None:
    """One event for a change made to these jobs by one request, linked to each of them."""
    if not job_ids:
        return
    event = TriggerEvent(type=event_type, description={"user": user}, occurred=now)
    s.add(event)
    s.flush()
    s.execute(insert(JobEvent), [{"job_id": job_id, "event_id": event.id} for job_id in job_ids])


def _source_fields(files: Sequence[ScaleFile]) -> dict:
    """A job's source_* fields from its input files: the widest time range, the first non-null of the others."""
    starts = [f.source_started for f in files if f.source_started]
    ends = [f.source_ended for f in files if f.source_ended]
    fields: dict[str, Any] = {
        "source_started": min(starts) if starts else None,
        "source_ended": max(ends) if ends else None,
    }
    for name in ("source_sensor_class", "source_sensor", "source_collection", "source_task"):
        fields[name] = next((getattr(f, name) for f in files if getattr(f, name)), None)
    return fields


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("-")[0].split("+")[0].split("."))
