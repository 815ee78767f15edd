"""JobStore: every read and write of jobs, job types and executions. The only place SQL lives.

State changes are single conditional UPDATEs (WHERE status = ...), so two requests racing cannot both apply;
on PostgreSQL, rows are locked job first, then execution, everywhere, so racing writers cannot deadlock.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, load_only, sessionmaker

from jobs import listing, seed
from jobs.filters import job_conditions
from jobs.models import (Batch, Error, Job, JobExecution, JobInputFile, JobType, JobTypeRevision, Node, Recipe,
                         RecipeType, RecipeTypeRevision, ScaleFile, TriggerEvent, Workspace)
from jobs.records import (ClaimedExecution, ExecutionQuery, InputFileQuery, Invalid, JobDetail, JobQuery,
                          JobStateConflict, JobTypeQuery, LogTarget, NotFound)

MIB = 1024 * 1024
DEFAULT_ERROR = "algorithm-unknown"
STALE_ERROR = "node-lost"
ENDED = ("COMPLETED", "FAILED", "CANCELED")

_BASE_JOB_TYPE = load_only(JobType.id, JobType.name, JobType.version, JobType.title, JobType.description,
                           JobType.is_active, JobType.is_paused, JobType.is_system, JobType.is_published,
                           JobType.icon_code, JobType.unmet_resources)
_EXECUTION_LOAD = (joinedload(JobExecution.node), joinedload(JobExecution.error),
                   joinedload(JobExecution.job_type).options(_BASE_JOB_TYPE))


class JobStore:
    def __init__(self, engine: Engine, clock: Callable[[], datetime]):
        self.engine = engine
        self._clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._postgres = engine.dialect.name == "postgresql"

    # ---- job types ------------------------------------------------------------------------------------------

    def save_job_type(self, docker_image: str, manifest: Any, configuration: Any = None, *,
                      icon_code: str | None = None, max_scheduled: int | None = None,
                      is_published: bool | None = None, is_active: bool | None = None,
                      is_paused: bool | None = None) -> tuple[JobType, bool]:
        """Add a Seed image: a new job type, or a new revision of an existing name/version. Returns (row, created)."""
        seed.check_manifest(manifest)
        if configuration is not None:
            seed.check_configuration(configuration)
        configuration = seed.without_secrets(configuration or {}, manifest)
        for attempt in range(3):  # a racing writer of the same name/version makes ours hit a unique key
            try:
                with self._sessions.begin() as s:
                    self._check_workspaces(s, configuration)
                    return self._save_job_type(s, docker_image, manifest, configuration, icon_code, max_scheduled,
                                               is_published, is_active, is_paused)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _save_job_type(self, s, docker_image, manifest, configuration, icon_code, max_scheduled,
                       is_published, is_active, is_paused) -> tuple[JobType, bool]:
        now = self._clock()
        job = manifest["job"]
        job_type = s.scalar(select(JobType).where(JobType.name == job["name"], JobType.version == job["jobVersion"])
                            .with_for_update())
        created = job_type is None
        if created:
            job_type = JobType(name=job["name"], version=job["jobVersion"], revision_num=1, created=now,
                               is_active=True, is_paused=False, is_system=False, is_published=False)
            s.add(job_type)
        else:
            job_type.revision_num += 1
        job_type.title = job.get("title")
        job_type.description = job.get("description")
        job_type.timeout = job.get("timeout", seed.DEFAULT_TIMEOUT)
        job_type.max_tries = job_type.max_tries or 3
        job_type.docker_image = docker_image
        job_type.manifest = manifest
        job_type.configuration = configuration
        for name, value in (("icon_code", icon_code), ("max_scheduled", max_scheduled),
                            ("is_published", is_published), ("is_active", is_active)):
            if value is not None:
                setattr(job_type, name, value)
        if is_paused is not None and is_paused != job_type.is_paused:
            job_type.is_paused = is_paused
            job_type.paused = now if is_paused else None
        job_type.deprecated = None if job_type.is_active else (job_type.deprecated or now)
        job_type.last_modified = now
        s.flush()
        s.add(JobTypeRevision(job_type_id=job_type.id, revision_num=job_type.revision_num,
                              docker_image=docker_image, manifest=manifest, created=now))
        for error in seed.job_errors(manifest):
            row = s.scalar(select(Error).where(Error.job_type_name == job_type.name, Error.name == error["name"]))
            if row is None:
                row = Error(job_type_name=job_type.name, is_builtin=False, should_be_retried=False, created=now)
                s.add(row)
            for key, value in error.items():
                setattr(row, key, value)
            row.last_modified = now
        return job_type, created

    def list_job_types(self, q: JobTypeQuery, offset: int, limit: int) -> tuple[int, list[JobType]]:
        conditions = []
        if q.keyword is not None:
            escaped = q.keyword.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            conditions.append(func.lower(JobType.name).like(pattern, escape="\\")
                              | func.lower(JobType.title).like(pattern, escape="\\")
                              | func.lower(JobType.description).like(pattern, escape="\\"))
        if q.ids is not None:
            conditions.append(JobType.id.in_(q.ids))
        if q.is_active is not None:
            conditions.append(JobType.is_active == q.is_active)
        if q.is_system is not None:
            conditions.append(JobType.is_system == q.is_system)
        with self._sessions() as s:
            count = s.scalar(select(func.count()).select_from(JobType).where(*conditions))
            rows = s.scalars(select(JobType).where(*conditions).order_by(JobType.name, JobType.version, JobType.id)
                             .offset(offset).limit(limit)).all()
        return count, list(rows)

    def get_job_type(self, name: str, version: str) -> JobType | None:
        with self._sessions() as s:
            return s.scalar(select(JobType).where(JobType.name == name, JobType.version == version))

    # ---- jobs -----------------------------------------------------------------------------------------------

    def list_jobs(self, q: JobQuery, offset: int, limit: int) -> tuple[int, list[tuple[RowMapping, dict]]]:
        """The total count and one page of (job, its input file names by input); jobs as jobs.listing reads them."""
        with self.engine.connect() as c:
            count, jobs, files = listing.page_of_jobs(c, q, offset, limit, self._postgres)
        return count, [(job, files[job["id"]]) for job in jobs]

    def get_job(self, job_id: int) -> JobDetail | None:
        with self.engine.connect() as c:
            row = listing.job_row(c, job_id)
            if row is None:
                return None
            files = listing.input_files(c, [job_id])[job_id]
            versions = c.scalars(select(JobType.version).where(JobType.name == row["job_type__name"])).all()
            execution = None
            if row["status"] in ("QUEUED", "RUNNING", "COMPLETED", "FAILED"):
                with self._sessions(bind=c) as s:  # the same connection: one pool checkout per details read
                    execution = s.scalar(select(JobExecution).where(JobExecution.job_id == job_id)
                                         .order_by(JobExecution.exe_num.desc()).limit(1).options(*_EXECUTION_LOAD))
        return JobDetail(row, files, execution, len(versions), max(versions, key=_version_key))

    def create_job(self, job_type_id: int, input: Any, configuration: Any = None, *, recipe_id: int | None = None,
                   batch_id: int | None = None, superseded_job_id: int | None = None,
                   event_type: str = "USER") -> int:
        """Queue a new job, checking in Scale's order; raises Invalid (400) or NotFound (404). Returns its id."""
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
                self._check_workspaces(s, configuration)
            file_ids = sorted({i for ids in data["files"].values() for i in ids})
            files = {f.id: f for f in s.scalars(select(ScaleFile).where(ScaleFile.id.in_(file_ids)))}
            seed.check_job_data(job_type.manifest, data, set(files))
            configuration = seed.without_secrets(configuration, job_type.manifest)
            revision_id = s.scalar(select(JobTypeRevision.id).where(
                JobTypeRevision.job_type_id == job_type.id, JobTypeRevision.revision_num == job_type.revision_num))
            event = TriggerEvent(type=event_type, description={"user": "API"} if event_type == "USER" else {},
                                 occurred=now)
            s.add(event)
            s.flush()
            merged = seed.effective_configuration(job_type.configuration, configuration)
            job = Job(job_type_id=job_type.id, job_type_rev_id=revision_id, event_id=event.id, recipe_id=recipe_id,
                      batch_id=batch_id, is_superseded=False, superseded_job_id=superseded_job_id,
                      status="QUEUED", max_tries=job_type.max_tries, num_exes=1, priority=merged["priority"],
                      timeout=job_type.timeout, input=data, configuration=configuration,
                      input_file_size=sum(f.file_size for f in files.values()) / MIB,
                      **_source_fields(list(files.values())),
                      created=now, queued=now, last_status_change=now, last_modified=now)
            s.add(job)
            s.flush()
            for name, ids in data["files"].items():
                for file_id in ids:
                    s.add(JobInputFile(job_id=job.id, input_file_id=file_id, job_input=name, created=now))
            if superseded_job_id is not None:
                s.execute(update(Job).where(Job.id == superseded_job_id)
                          .values(is_superseded=True, superseded=now, last_modified=now)
                          .execution_options(synchronize_session=False))
            return job.id

    def input_files(self, job_id: int, q: InputFileQuery, offset: int, limit: int) -> tuple[int, list[ScaleFile]] | None:
        """The job's input files, ordered by last_modified; None if the job does not exist."""
        links = select(JobInputFile.input_file_id).where(JobInputFile.job_id == job_id)
        if q.job_inputs is not None:
            links = links.where(JobInputFile.job_input.in_(q.job_inputs))
        conditions = [ScaleFile.id.in_(links)]
        start, end = {"source": (ScaleFile.source_started, ScaleFile.source_ended),
                      "data": (ScaleFile.data_started, ScaleFile.data_ended),
                      "last_modified": (ScaleFile.last_modified, ScaleFile.last_modified)}[q.time_field]
        if q.started is not None:
            conditions.append(start >= q.started)
        if q.ended is not None:
            conditions.append(end <= q.ended)
        if q.file_names is not None:
            conditions.append(ScaleFile.file_name.in_(q.file_names))
        with self._sessions() as s:
            if s.get(Job, job_id) is None:
                return None
            count = s.scalar(select(func.count()).select_from(ScaleFile).where(*conditions))
            rows = s.scalars(select(ScaleFile).where(*conditions).options(joinedload(ScaleFile.workspace))
                             .order_by(ScaleFile.last_modified, ScaleFile.id).offset(offset).limit(limit)).all()
        return count, list(rows)

    def cancel_jobs(self, q: JobQuery) -> int:
        """Cancel every matching job not COMPLETED or CANCELED; their running executions end CANCELED."""
        now = self._clock()
        with self._sessions.begin() as s:
            matched = s.execute(
                update(Job).where(*job_conditions(s, q), Job.status.not_in(("COMPLETED", "CANCELED")))
                .values(status="CANCELED", error_id=None, node_id=None, last_status_change=now, last_modified=now)
                .execution_options(synchronize_session=False)).rowcount
            canceled = select(Job.id).where(Job.status == "CANCELED")
            s.execute(update(JobExecution)
                      .where(JobExecution.status == "RUNNING", JobExecution.job_id.in_(canceled))
                      .values(status="CANCELED", ended=now, last_modified=now)
                      .execution_options(synchronize_session=False))
        return matched

    def requeue_jobs(self, q: JobQuery, priority: int | None = None) -> int:
        """Queue again every matching FAILED or CANCELED job that is not superseded."""
        now = self._clock()
        type_tries = select(JobType.max_tries).where(JobType.id == Job.job_type_id).scalar_subquery()
        values: dict[str, Any] = dict(
            status="QUEUED", num_exes=Job.num_exes + 1, max_tries=Job.num_exes + type_tries, queued=now,
            started=None, ended=None, error_id=None, node_id=None, last_status_change=now, last_modified=now)
        if priority is not None:
            values["priority"] = priority
        with self._sessions.begin() as s:
            return s.execute(
                update(Job).where(*job_conditions(s, q), Job.status.in_(("FAILED", "CANCELED")),
                                  Job.is_superseded.is_(False))
                .values(**values).execution_options(synchronize_session=False)).rowcount

    def _check_workspaces(self, s, configuration: dict) -> None:
        workspaces = configuration.get("output_workspaces") or {}
        names = {workspaces["default"]} if workspaces.get("default") else set()
        names |= set((workspaces.get("outputs") or {}).values())
        known = set(s.scalars(select(Workspace.name).where(Workspace.name.in_(names))))
        for name in sorted(names - known):
            raise Invalid(f"Job type configuration invalid: workspace '{name}' does not exist")

    # ---- executions -----------------------------------------------------------------------------------------

    def list_executions(self, job_id: int, q: ExecutionQuery, offset: int, limit: int) -> tuple[int, list[JobExecution]]:
        """A job's executions, newest exe_num first (an unknown job simply has none)."""
        c = [JobExecution.job_id == job_id]
        for values, column in ((q.statuses, JobExecution.status), (q.node_ids, JobExecution.node_id),
                               (q.error_ids, JobExecution.error_id)):
            if values is not None:
                c.append(column.in_(values))
        if q.error_categories is not None:
            c.append(JobExecution.error_id.in_(select(Error.id).where(Error.category.in_(q.error_categories))))
        with self._sessions() as s:
            count = s.scalar(select(func.count()).select_from(JobExecution).where(*c))
            rows = s.scalars(select(JobExecution).where(*c).options(*_EXECUTION_LOAD)
                             .order_by(JobExecution.exe_num.desc()).offset(offset).limit(limit)).all()
        return count, list(rows)

    def get_execution(self, exe_id: int | None = None, *, job_id: int | None = None,
                      exe_num: int | None = None) -> JobExecution | None:
        """One execution by its id, or by (job_id, exe_num)."""
        stmt = select(JobExecution).options(*_EXECUTION_LOAD)
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
        next_id = (select(Job.id).where(Job.status == "QUEUED", Job.job_type_id.in_(unpaused))
                   .order_by(Job.priority, Job.queued, Job.id).limit(1).with_for_update(skip_locked=True))
        with self._sessions.begin() as s:
            node_id = self._node_id(s, node, now)
            return self._start(s, Job.id == next_id.scalar_subquery(), node, node_id, now, now, lease)

    def _start(self, s, which, node: str, node_id: int, started: datetime, now: datetime,
               lease_expires: datetime | None = None) -> ClaimedExecution | None:
        row = s.execute(
            update(Job).where(which, Job.status == "QUEUED")
            .values(status="RUNNING", node_id=node_id, started=started, ended=None, error_id=None,
                    last_status_change=now, last_modified=now)
            .returning(Job.id, Job.num_exes).execution_options(synchronize_session=False)).first()
        if row is None:
            return None
        job = s.scalar(select(Job).where(Job.id == row.id).options(joinedload(Job.job_type),
                                                                   joinedload(Job.job_type_rev)))
        manifest = job.job_type_rev.manifest
        configuration = seed.without_secrets(
            seed.effective_configuration(job.job_type.configuration, job.configuration), manifest)
        execution = JobExecution(
            job_id=job.id, job_type_id=job.job_type_id, exe_num=row.num_exes,
            cluster_id=f"scale_job_{job.id}x{row.num_exes}", node_id=node_id, status="RUNNING",
            timeout=job.timeout, input_file_size=job.input_file_size,
            resources=seed.job_resources(manifest, job.input_file_size), configuration=configuration,
            log_seq=0, lease_expires=lease_expires, queued=job.queued, started=started, created=now,
            last_modified=now)
        s.add(execution)
        s.flush()
        return ClaimedExecution(
            id=execution.id, job_id=job.id, exe_num=execution.exe_num, cluster_id=execution.cluster_id, node=node,
            job_type_name=job.job_type.name, job_type_version=job.job_type.version,
            docker_image=job.job_type_rev.docker_image, manifest=manifest, input=job.input,
            configuration=configuration, timeout=job.timeout, started=started)

    def finish_execution(self, exe_id: int, status: str, ended: datetime | None = None, error: dict | None = None,
                         output: Any = None, task_results: dict | None = None, *,
                         lease_expired_by: datetime | None = None) -> str:
        """End a RUNNING execution as COMPLETED, FAILED or CANCELED and move its job; returns the job's new status.

        COMPLETED copies `output` (Data) to the job. FAILED records `error` ({"name"} or {"category", "title",
        "description"}; default algorithm-unknown) and requeues the job when the error should be retried and
        tries remain. Raises NotFound, Invalid, or JobStateConflict when the execution already ended (or, with
        lease_expired_by, when its lease was renewed past that moment meanwhile).
        """
        if status not in ENDED:
            raise Invalid(f"status must be one of {list(ENDED)}")
        if error is not None and status != "FAILED":
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
            job = s.execute(select(Job.num_exes, Job.max_tries, Job.started, JobType.name)
                            .join(JobType, JobType.id == Job.job_type_id)
                            .where(Job.id == job_id).with_for_update(of=Job)).one()
            error_row = self._error(s, error, job.name, now) if status == "FAILED" else None
            still_running = [JobExecution.id == exe_id, JobExecution.status == "RUNNING"]
            if lease_expired_by is not None:
                still_running.append(JobExecution.lease_expires < lease_expired_by)
            ended_row = s.execute(
                update(JobExecution).where(*still_running)
                .values(status=status, ended=ended, error_id=error_row.id if error_row else None, output=output,
                        task_results=task_results, last_modified=now)
                .returning(JobExecution.exe_num).execution_options(synchronize_session=False)).first()
            if ended_row is None:
                current = s.scalar(select(JobExecution.status).where(JobExecution.id == exe_id))
                if current == "RUNNING":
                    raise JobStateConflict(f"Job execution {exe_id} holds a lease renewed meanwhile")
                raise JobStateConflict(f"Job execution {exe_id} is {current}, not RUNNING")
            if ended_row.exe_num != job.num_exes:
                raise JobStateConflict(f"Job execution {exe_id} is not the job's current execution")
            values: dict[str, Any] = dict(status=status, ended=ended, last_status_change=now, last_modified=now)
            if status == "COMPLETED":
                values.update(output=output, error_id=None)
            elif status == "FAILED":
                values.update(error_id=error_row.id)
                if error_row.should_be_retried and job.num_exes < job.max_tries:
                    values.update(status="QUEUED", num_exes=job.num_exes + 1, queued=now, started=None, ended=None,
                                  error_id=None, node_id=None)
            moved = s.execute(update(Job).where(Job.id == job_id, Job.status == "RUNNING").values(**values)
                              .execution_options(synchronize_session=False)).rowcount
            if not moved:
                raise JobStateConflict(f"Job {job_id} is not RUNNING")
            return values["status"]

    def fail_stale_running(self, node: str) -> int:
        """Fail (system error node-lost, requeued if tries remain) every RUNNING execution on `node`.

        For a worker restarting after a crash. Returns how many executions it failed.
        """
        with self._sessions() as s:
            ids = s.scalars(select(JobExecution.id).join(Node, Node.id == JobExecution.node_id)
                            .where(Node.hostname == node, JobExecution.status == "RUNNING")).all()
        return self._fail_lost(ids)

    def renew_lease(self, exe_id: int, seconds: float) -> bool:
        """Extend the lease of a RUNNING execution to now + seconds; False when it is no longer RUNNING."""
        now = self._clock()
        with self._sessions.begin() as s:
            return s.execute(update(JobExecution)
                             .where(JobExecution.id == exe_id, JobExecution.status == "RUNNING")
                             .values(lease_expires=now + timedelta(seconds=seconds))
                             .execution_options(synchronize_session=False)).rowcount == 1

    def fail_expired_leases(self) -> int:
        """Fail (node-lost, requeued if tries remain) every RUNNING execution whose lease ran out: its worker
        died or lost the database for longer than the lease. Returns how many it failed."""
        now = self._clock()
        with self._sessions() as s:
            ids = s.scalars(select(JobExecution.id).where(JobExecution.status == "RUNNING",
                                                          JobExecution.lease_expires < now)).all()
        return self._fail_lost(ids, lease_expired_by=now)

    def _fail_lost(self, exe_ids: Sequence[int], lease_expired_by: datetime | None = None) -> int:
        failed = 0
        for exe_id in exe_ids:
            try:
                self.finish_execution(exe_id, "FAILED", error={"name": STALE_ERROR}, lease_expired_by=lease_expired_by)
                failed += 1
            except JobStateConflict:  # it ended, or its worker renewed the lease, meanwhile
                pass
        return failed

    def _error(self, s, error: dict | None, job_type_name: str, now: datetime) -> Error:
        if error is None:
            error = {"name": DEFAULT_ERROR}
        if "name" in error:
            rows = s.scalars(select(Error).where(Error.name == error["name"], (Error.job_type_name == job_type_name)
                                                 | Error.job_type_name.is_(None))).all()
            if not rows:
                raise Invalid(f"Unknown error name: \"{error['name']}\"")
            return min(rows, key=lambda e: e.job_type_name is None)  # the job type's own error wins
        name = "-".join(error["title"].lower().split())[:50]
        row = s.scalar(select(Error).where(Error.job_type_name == job_type_name, Error.name == name))
        if row is None:
            row = Error(name=name, title=error["title"][:50], description=error.get("description"),
                        category=error["category"], is_builtin=False, should_be_retried=error["category"] == "SYSTEM",
                        job_type_name=job_type_name, created=now, last_modified=now)
            s.add(row)
            s.flush()
        return row

    # ---- log pipeline ---------------------------------------------------------------------------------------

    def execution_for_logs(self, exe_id: int) -> LogTarget | None:
        """The execution with this id as the log pipeline needs it, or None."""
        with self._sessions() as s:
            row = s.execute(_log_targets().where(JobExecution.id == exe_id)).first()
        return _log_target(row) if row else None

    def log_targets_of_job(self, job_id: int) -> list[LogTarget] | None:
        """Every execution of the job, by exe_num; None if the job does not exist."""
        with self._sessions() as s:
            if s.get(Job, job_id) is None:
                return None
            rows = s.execute(_log_targets().where(JobExecution.job_id == job_id)
                             .order_by(JobExecution.exe_num)).all()
        return [_log_target(r) for r in rows]

    def reserve_log_sequence(self, exe_id: int, count: int) -> int:
        """Reserve `count` consecutive log order numbers of the execution (from 1); returns the first one.

        One UPDATE ... RETURNING, so concurrent callers (several gunicorn workers) never overlap.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._sessions.begin() as s:
            last = s.scalar(update(JobExecution).where(JobExecution.id == exe_id)
                            .values(log_seq=JobExecution.log_seq + count).returning(JobExecution.log_seq)
                            .execution_options(synchronize_session=False))
        if last is None:
            raise NotFound(f"job execution {exe_id}")
        return last - count + 1

    # ---- reference data (workspaces, files, recipes, batches) -----------------------------------------------

    def add_workspace(self, name: str, base_url: str | None = None, title: str | None = None) -> int:
        now = self._clock()
        with self._sessions.begin() as s:
            row = Workspace(name=name, title=title, base_url=base_url, is_active=True, json_config={},
                            created=now, last_modified=now)
            s.add(row)
            s.flush()
            return row.id

    def add_file(self, workspace_id: int, file_name: str, file_size: int, **fields: Any) -> int:
        """Register a Scale file (size in bytes); `fields` are other ScaleFile columns (media_type, source_*...)."""
        now = self._clock()
        fields.setdefault("file_path", file_name)
        with self._sessions.begin() as s:
            row = ScaleFile(workspace_id=workspace_id, file_name=file_name, file_size=file_size, data_type_tags=[],
                            created=now, last_modified=now, **fields)
            s.add(row)
            s.flush()
            return row.id

    def add_batch(self, title: str, description: str | None = None) -> int:
        now = self._clock()
        with self._sessions.begin() as s:
            row = Batch(title=title, description=description, created=now, last_modified=now)
            s.add(row)
            s.flush()
            return row.id

    def add_recipe(self, recipe_type_name: str, batch_id: int | None = None) -> int:
        """A recipe of the named recipe type (created on first use), triggered by a new event."""
        now = self._clock()
        with self._sessions.begin() as s:
            recipe_type = s.scalar(select(RecipeType).where(RecipeType.name == recipe_type_name))
            if recipe_type is None:
                recipe_type = RecipeType(name=recipe_type_name, title=recipe_type_name, revision_num=1,
                                         is_active=True, definition={}, created=now, last_modified=now)
                s.add(recipe_type)
                s.flush()
                s.add(RecipeTypeRevision(recipe_type_id=recipe_type.id, revision_num=1, definition={}, created=now))
            revision_id = s.scalar(select(RecipeTypeRevision.id).where(
                RecipeTypeRevision.recipe_type_id == recipe_type.id,
                RecipeTypeRevision.revision_num == recipe_type.revision_num))
            event = TriggerEvent(type="USER", description={}, occurred=now)
            s.add(event)
            s.flush()
            row = Recipe(recipe_type_id=recipe_type.id, recipe_type_rev_id=revision_id, event_id=event.id,
                         batch_id=batch_id, is_superseded=False, created=now, last_modified=now)
            s.add(row)
            s.flush()
            return row.id

    def _node_id(self, s, hostname: str, now: datetime) -> int:
        insert = (postgresql.insert if self._postgres else sqlite.insert)(Node)
        s.execute(insert.values(hostname=hostname, created=now, last_modified=now)
                  .on_conflict_do_nothing(index_elements=["hostname"]))
        return s.scalar(select(Node.id).where(Node.hostname == hostname))


def _log_targets():
    return (select(JobExecution.id, JobExecution.job_id, JobExecution.exe_num, JobExecution.cluster_id,
                   JobExecution.status, Node.hostname, JobType.name, JobType.version, JobExecution.started,
                   JobExecution.ended)
            .join(JobType, JobType.id == JobExecution.job_type_id)
            .outerjoin(Node, Node.id == JobExecution.node_id))


def _log_target(row) -> LogTarget:
    return LogTarget(id=row[0], job_id=row[1], exe_num=row[2], cluster_id=row[3], status=row[4], node=row[5],
                     job_type_name=row[6], job_type_version=row[7], started=row[8], ended=row[9],
                     is_finished=row[4] != "RUNNING")


def _source_fields(files: Sequence[ScaleFile]) -> dict:
    """A job's source_* fields from its input files: the widest time range, the first non-null of the others."""
    starts = [f.source_started for f in files if f.source_started]
    ends = [f.source_ended for f in files if f.source_ended]
    fields: dict[str, Any] = {"source_started": min(starts) if starts else None,
                              "source_ended": max(ends) if ends else None}
    for name in ("source_sensor_class", "source_sensor", "source_collection", "source_task"):
        fields[name] = next((getattr(f, name) for f in files if getattr(f, name)), None)
    return fields


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("-")[0].split("+")[0].split("."))
