"""Executions: listed and looked up; started by an executor or claimed by a worker; finished; leased to a
worker and failed (node-lost) when that worker is gone.

State changes are single conditional UPDATEs; rows are locked job first, then execution (as in job_store).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, load_only

from core.times import Clock
from jobs import seed
from jobs.db import Database, rowcount
from jobs.errors import Invalid, JobStateConflict, NotFound
from jobs.models import JOB_TYPE_BASE_COLUMNS, Error, Job, JobExecution, JobType, JobTypeRevision, Node
from jobs.output_files import merged_output, record_output_files
from jobs.records import ClaimedExecution, ExecutionQuery, OutputFile
from jobs.scaleui.metrics_store import record_job_end
from jobs.statuses import END_STATUSES, ErrorCategory, ExecutionStatus, JobStatus

DEFAULT_ERROR = "algorithm-unknown"
STALE_ERROR = "node-lost"

# The columns of a job type that its base JSON shows (executions, files).
BASE_JOB_TYPE = load_only(*JOB_TYPE_BASE_COLUMNS)
# What an execution's JSON shows besides its own columns.
EXECUTION_LOAD = (
    joinedload(JobExecution.node),
    joinedload(JobExecution.error),
    joinedload(JobExecution.job_type).options(BASE_JOB_TYPE),
)


class ExecutionStore:
    def __init__(self, db: Database, clock: Clock):
        self._sessions = db.sessions
        self._postgres = db.postgres
        self._clock = clock

    def list_executions(
        self, job_id: int, q: ExecutionQuery, offset: int, limit: int
    ) -> tuple[int, list[JobExecution]]:
        """A job's executions, newest exe_num first (an unknown job simply has none)."""
        c: list[ColumnElement[bool]] = [JobExecution.job_id == job_id]
        for values, column in (
            (q.statuses, JobExecution.status),
            (q.node_ids, JobExecution.node_id),
            (q.error_ids, JobExecution.error_id),
        ):
            if values is not None:
                c.append(column.in_(values))
        if q.error_categories is not None:
            c.append(JobExecution.error_id.in_(select(Error.id).where(Error.category.in_(q.error_categories))))
        with self._sessions() as s:
            count = s.execute(select(func.count()).select_from(JobExecution).where(*c)).scalar_one()
            rows = s.scalars(
                select(JobExecution)
                .where(*c)
                .options(*EXECUTION_LOAD)
                .order_by(JobExecution.exe_num.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        return count, list(rows)

    def get_execution(
        self, exe_id: int | None = None, *, job_id: int | None = None, exe_num: int | None = None
    ) -> JobExecution | None:
        """One execution by its id, or by (job_id, exe_num)."""
        stmt = select(JobExecution).options(*EXECUTION_LOAD)
        if exe_id is not None:
            stmt = stmt.where(JobExecution.id == exe_id)
        else:
            stmt = stmt.where(JobExecution.job_id == job_id, JobExecution.exe_num == exe_num)
        with self._sessions() as s:
            return s.scalar(stmt)

    def start_execution(self, job_id: int, node: str, started: datetime | None = None) -> ClaimedExecution:
        """Start the next execution of a QUEUED job on `node` (job -> RUNNING).

        Raises NotFound for an unknown job, JobStateConflict if the job is not QUEUED.
        """
        now = self._clock()
        with self._sessions.begin() as s:
            node_id = self._node_id(s, node, now)
            claimed = self._start(s, Job.id == job_id, node, node_id, started or now, now)
            if claimed is None:
                status = s.scalar(select(Job.status).where(Job.id == job_id))
                if status is None:
                    raise NotFound(f"job {job_id}")
                raise JobStateConflict(f"Job {job_id} is {status}, not QUEUED")
            return claimed

    def claim_next_queued(self, node: str, lease_seconds: float | None = None) -> ClaimedExecution | None:
        """Start the execution of the next QUEUED job (priority, then queue time) of an unpaused job type.

        Safe with many workers: FOR UPDATE SKIP LOCKED on PostgreSQL, a single UPDATE on SQLite (one writer).
        With lease_seconds, the execution is leased to the caller for that long (see renew_lease).
        """
        now = self._clock()
        lease = now + timedelta(seconds=lease_seconds) if lease_seconds else None
        unpaused = select(JobType.id).where(JobType.is_paused.is_(False))
        next_id = (
            select(Job.id)
            .where(Job.status == JobStatus.QUEUED, Job.job_type_id.in_(unpaused))
            .order_by(Job.priority, Job.queued, Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        with self._sessions.begin() as s:
            node_id = self._node_id(s, node, now)
            return self._start(s, Job.id == next_id.scalar_subquery(), node, node_id, now, now, lease)

    def _start(
        self, s, which, node: str, node_id: int, started: datetime, now: datetime, lease_expires: datetime | None = None
    ) -> ClaimedExecution | None:
        row = s.execute(
            update(Job)
            .where(which, Job.status == JobStatus.QUEUED)
            .values(
                status=JobStatus.RUNNING,
                node_id=node_id,
                started=started,
                ended=None,
                error_id=None,
                last_status_change=now,
                last_modified=now,
            )
            .returning(Job.id, Job.num_exes)
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            return None
        job = s.scalar(
            select(Job).where(Job.id == row.id).options(joinedload(Job.job_type), joinedload(Job.job_type_rev))
        )
        manifest = job.job_type_rev.manifest
        configuration = seed.without_secrets(
            seed.effective_configuration(job.job_type.configuration, job.configuration), manifest
        )
        execution = JobExecution(
            job_id=job.id,
            job_type_id=job.job_type_id,
            exe_num=row.num_exes,
            cluster_id=f"scale_job_{job.id}x{row.num_exes}",
            node_id=node_id,
            status=ExecutionStatus.RUNNING,
            timeout=job.timeout,
            input_file_size=job.input_file_size,
            resources=seed.job_resources(manifest, job.input_file_size),
            configuration=configuration,
            log_seq=0,
            lease_expires=lease_expires,
            queued=job.queued,
            started=started,
            created=now,
            last_modified=now,
        )
        s.add(execution)
        s.flush()
        return ClaimedExecution(
            id=execution.id,
            job_id=job.id,
            exe_num=execution.exe_num,
            cluster_id=execution.cluster_id,
            node=node,
            job_type_name=job.job_type.name,
            job_type_version=job.job_type.version,
            docker_image=job.job_type_rev.docker_image,
            manifest=manifest,
            input=job.input,
            configuration=configuration,
            timeout=job.timeout,
            started=started,
            resources=execution.resources["resources"],
        )

    def finish_execution(
        self,
        exe_id: int,
        status: str,
        ended: datetime | None = None,
        error: dict | None = None,
        output: Any = None,
        task_results: dict | None = None,
        *,
        files: Sequence[OutputFile] = (),
        lease_expired_by: datetime | None = None,
    ) -> str:
        """End a RUNNING execution as COMPLETED, FAILED or CANCELED and move its job; returns the job's new status.

        `files` the execution produced become Scale files of the job and execution (jobs.output_files), added to
        the output Data under their output names. COMPLETED copies `output` (Data) to the job. FAILED records
        `error` ({"name"} or {"category", "title", "description"}; default algorithm-unknown) and requeues the
        job when the error should be retried and tries remain. Raises NotFound, Invalid, or JobStateConflict
        when the execution already ended (or, with lease_expired_by, when its lease was renewed past that moment
        meanwhile); then nothing, files included, is recorded.
        """
        if status not in END_STATUSES:
            raise Invalid(f"status must be one of {list(END_STATUSES)}")
        if error is not None and status != ExecutionStatus.FAILED:
            raise Invalid("error is only allowed with status FAILED")
        if output is not None:
            output = seed.normalized_data(output)
        now = self._clock()
        ended = ended or now
        with self._sessions.begin() as s:
            job_id = s.scalar(select(JobExecution.job_id).where(JobExecution.id == exe_id))
            if job_id is None:
                raise NotFound(f"job execution {exe_id}")
            # Lock the job before the execution, in the same order as cancel does.
            job = s.execute(
                select(Job.num_exes, Job.max_tries, Job.started, Job.job_type_id, JobType.name)
                .join(JobType, JobType.id == Job.job_type_id)
                .where(Job.id == job_id)
                .with_for_update(of=Job)
            ).one()
            error_row = self._error(s, error, job.name, now) if status == ExecutionStatus.FAILED else None
            if files:
                output = self._record_files(s, job_id, exe_id, files, output, now)
            still_running = [JobExecution.id == exe_id, JobExecution.status == ExecutionStatus.RUNNING]
            if lease_expired_by is not None:
                still_running.append(JobExecution.lease_expires < lease_expired_by)
            ended_row = s.execute(
                update(JobExecution)
                .where(*still_running)
                .values(
                    status=status,
                    ended=ended,
                    error_id=error_row.id if error_row else None,
                    output=output,
                    task_results=task_results,
                    last_modified=now,
                )
                .returning(JobExecution.exe_num, JobExecution.queued, JobExecution.started)
                .execution_options(synchronize_session=False)
            ).first()
            if ended_row is None:
                current = s.scalar(select(JobExecution.status).where(JobExecution.id == exe_id))
                if current == ExecutionStatus.RUNNING:
                    raise JobStateConflict(f"Job execution {exe_id} holds a lease renewed meanwhile")
                raise JobStateConflict(f"Job execution {exe_id} is {current}, not RUNNING")
            if ended_row.exe_num != job.num_exes:
                raise JobStateConflict(f"Job execution {exe_id} is not the job's current execution")
            values: dict[str, Any] = dict(status=status, ended=ended, last_status_change=now, last_modified=now)
            if status == ExecutionStatus.COMPLETED:
                values.update(output=output, error_id=None)
            elif error_row is not None:  # FAILED
                values.update(error_id=error_row.id)
                if error_row.should_be_retried and job.num_exes < job.max_tries:
                    values.update(
                        status=JobStatus.QUEUED,
                        num_exes=job.num_exes + 1,
                        queued=now,
                        started=None,
                        ended=None,
                        error_id=None,
                        node_id=None,
                    )
            moved = rowcount(
                s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            )
            if not moved:
                raise JobStateConflict(f"Job {job_id} is not RUNNING")
            if values["status"] in (JobStatus.COMPLETED, JobStatus.FAILED):  # the job ended: its type's metrics
                category = error_row.category if error_row is not None else None
                record_job_end(s, job.job_type_id, status, category, ended_row.queued, ended_row.started, ended)
            return values["status"]

    @staticmethod
    def _record_files(
        s, job_id: int, exe_id: int, files: Sequence[OutputFile], output: dict | None, now: datetime
    ) -> dict | None:
        job = s.get(Job, job_id)
        manifest = s.scalar(select(JobTypeRevision.manifest).where(JobTypeRevision.id == job.job_type_rev_id))
        configuration = s.scalar(select(JobExecution.configuration).where(JobExecution.id == exe_id))
        by_output = record_output_files(s, job, exe_id, manifest, configuration, files, now)
        return merged_output(output, by_output)

    def fail_stale_running(self, node: str) -> int:
        """Fail (system error node-lost, requeued if tries remain) every RUNNING execution on `node`.

        For a worker restarting after a crash. Returns how many executions it failed.
        """
        with self._sessions() as s:
            ids = s.scalars(
                select(JobExecution.id)
                .join(Node, Node.id == JobExecution.node_id)
                .where(Node.hostname == node, JobExecution.status == ExecutionStatus.RUNNING)
            ).all()
        return self._fail_lost(ids)

    def renew_lease(self, exe_id: int, seconds: float) -> bool:
        """Extend the lease of a RUNNING execution to now + seconds; False when it is no longer RUNNING."""
        now = self._clock()
        with self._sessions.begin() as s:
            return (
                rowcount(
                    s.execute(
                        update(JobExecution)
                        .where(JobExecution.id == exe_id, JobExecution.status == ExecutionStatus.RUNNING)
                        .values(lease_expires=now + timedelta(seconds=seconds))
                        .execution_options(synchronize_session=False)
                    )
                )
                == 1
            )

    def renew_leases(self, exe_ids: Sequence[int], seconds: float) -> set[int]:
        """Extend the leases of these executions that are still RUNNING; returns those that are not (ended:
        canceled, or failed by another worker) in one statement each way."""
        if not exe_ids:
            return set()
        now = self._clock()
        with self._sessions.begin() as s:
            s.execute(
                update(JobExecution)
                .where(JobExecution.id.in_(exe_ids), JobExecution.status == ExecutionStatus.RUNNING)
                .values(lease_expires=now + timedelta(seconds=seconds))
                .execution_options(synchronize_session=False)
            )
            running = s.scalars(
                select(JobExecution.id).where(
                    JobExecution.id.in_(exe_ids), JobExecution.status == ExecutionStatus.RUNNING
                )
            ).all()
        return set(exe_ids) - set(running)

    def running_on(self, node: str) -> list[int]:
        """The RUNNING executions recorded on this node."""
        with self._sessions() as s:
            return list(
                s.scalars(
                    select(JobExecution.id)
                    .join(Node, Node.id == JobExecution.node_id)
                    .where(Node.hostname == node, JobExecution.status == ExecutionStatus.RUNNING)
                ).all()
            )

    def nodes_of(self, exe_ids: Sequence[int]) -> dict[int, str | None]:
        """The node each of these executions is recorded on (None: none yet), for those that exist."""
        if not exe_ids:
            return {}
        with self._sessions() as s:
            rows = s.execute(
                select(JobExecution.id, Node.hostname)
                .outerjoin(Node, Node.id == JobExecution.node_id)
                .where(JobExecution.id.in_(set(exe_ids)))
            ).all()
        return {int(exe_id): hostname for exe_id, hostname in rows}

    def move_to_node(self, exe_id: int, node: str) -> bool:
        """Record the node a RUNNING execution (and its job) actually runs on, once an engine placed it there
        (a Kubernetes pod's node); False when the execution is no longer RUNNING."""
        now = self._clock()
        with self._sessions.begin() as s:
            node_id = self._node_id(s, node, now)
            job_id = s.scalar(select(JobExecution.job_id).where(JobExecution.id == exe_id))
            # The job's row first, then the execution's, in the order finish_execution and cancel lock them.
            s.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
                .values(node_id=node_id, last_modified=now)
                .execution_options(synchronize_session=False)
            )
            moved = s.execute(
                update(JobExecution)
                .where(JobExecution.id == exe_id, JobExecution.status == ExecutionStatus.RUNNING)
                .values(node_id=node_id, last_modified=now)
                .execution_options(synchronize_session=False)
            )
            return rowcount(moved) == 1

    def fail_expired_leases(self) -> int:
        """Fail (node-lost, requeued if tries remain) every RUNNING execution whose lease ran out: its worker
        died or lost the database for longer than the lease. Returns how many it failed."""
        now = self._clock()
        with self._sessions() as s:
            ids = s.scalars(
                select(JobExecution.id).where(
                    JobExecution.status == ExecutionStatus.RUNNING, JobExecution.lease_expires < now
                )
            ).all()
        return self._fail_lost(ids, lease_expired_by=now)

    def _fail_lost(self, exe_ids: Sequence[int], lease_expired_by: datetime | None = None) -> int:
        failed = 0
        for exe_id in exe_ids:
            try:
                self.finish_execution(
                    exe_id, ExecutionStatus.FAILED, error={"name": STALE_ERROR}, lease_expired_by=lease_expired_by
                )
                failed += 1
            except JobStateConflict:  # it ended, or its worker renewed the lease, meanwhile
                pass
        return failed

    def _error(self, s, error: dict | None, job_type_name: str, now: datetime) -> Error:
        if error is None:
            error = {"name": DEFAULT_ERROR}
        if "name" in error:
            rows = s.scalars(
                select(Error).where(
                    Error.name == error["name"], (Error.job_type_name == job_type_name) | Error.job_type_name.is_(None)
                )
            ).all()
            if not rows:
                raise Invalid(f'Unknown error name: "{error["name"]}"')
            return min(rows, key=lambda e: e.job_type_name is None)  # the job type's own error wins
        name = "-".join(error["title"].lower().split())[:50]
        row = s.scalar(select(Error).where(Error.job_type_name == job_type_name, Error.name == name))
        if row is None:
            row = Error(
                name=name,
                title=error["title"][:50],
                description=error.get("description"),
                category=error["category"],
                is_builtin=False,
                should_be_retried=error["category"] == ErrorCategory.SYSTEM,
                job_type_name=job_type_name,
                created=now,
                last_modified=now,
            )
            s.add(row)
            s.flush()
        return row

    def _node_id(self, s, hostname: str, now: datetime) -> int:
        insert = (postgresql.insert if self._postgres else sqlite.insert)(Node)
        s.execute(
            insert.values(hostname=hostname, created=now, last_modified=now).on_conflict_do_nothing(
                index_elements=["hostname"]
            )
        )
        return s.scalar(select(Node.id).where(Node.hostname == hostname))
