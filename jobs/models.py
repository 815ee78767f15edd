"""Typed SQLAlchemy models of Scale's job data. Relationships are lazy="raise": reads must eager-load."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# SQLite's INTEGER PRIMARY KEY is a 64-bit rowid; BigInteger alone would lose autoincrement there.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in and out; SQLite stores them naive (always UTC), so they still compare as text."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, int: Id}


class Node(Base):
    __tablename__ = "nodes"
    id: Mapped[int] = mapped_column(primary_key=True)
    hostname: Mapped[str] = mapped_column(String(250), unique=True)
    created: Mapped[datetime]
    last_modified: Mapped[datetime]


class Error(Base):
    __tablename__ = "errors"
    __table_args__ = (UniqueConstraint("job_type_name", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(String(250))
    category: Mapped[str] = mapped_column(String(50))
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    should_be_retried: Mapped[bool] = mapped_column(Boolean, default=False)
    # Errors declared in a Seed manifest belong to that job type name; built-ins have none.
    job_type_name: Mapped[str | None] = mapped_column(String(250))
    created: Mapped[datetime]
    last_modified: Mapped[datetime]


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(String(500))
    base_url: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    json_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime]
    deprecated: Mapped[datetime | None]  # migration 0012: when it was made inactive
    last_modified: Mapped[datetime]


class TriggerEvent(Base):
    __tablename__ = "trigger_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(50), index=True)
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred: Mapped[datetime]


class RecipeType(Base):
    __tablename__ = "recipe_types"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision_num: Mapped[int] = mapped_column(Integer, default=1)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime]
    last_modified: Mapped[datetime]


class RecipeTypeRevision(Base):
    __tablename__ = "recipe_type_revisions"
    __table_args__ = (UniqueConstraint("recipe_type_id", "revision_num"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recipe_type_id: Mapped[int] = mapped_column(ForeignKey("recipe_types.id"))
    revision_num: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created: Mapped[datetime]


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(String(500))
    recipe_type_id: Mapped[int | None] = mapped_column(ForeignKey("recipe_types.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("trigger_events.id"))
    created: Mapped[datetime]
    last_modified: Mapped[datetime]


class Recipe(Base):
    __tablename__ = "recipes"
    id: Mapped[int] = mapped_column(primary_key=True)
    recipe_type_id: Mapped[int] = mapped_column(ForeignKey("recipe_types.id"), index=True)
    recipe_type_rev_id: Mapped[int] = mapped_column(ForeignKey("recipe_type_revisions.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("trigger_events.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    is_superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime]
    last_modified: Mapped[datetime]

    recipe_type: Mapped[RecipeType] = relationship(lazy="raise")
    recipe_type_rev: Mapped[RecipeTypeRevision] = relationship(lazy="raise")


class JobType(Base):
    __tablename__ = "job_types"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    version: Mapped[str] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(String(500))
    icon_code: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)
    unmet_resources: Mapped[str | None] = mapped_column(String(250))
    max_scheduled: Mapped[int | None] = mapped_column(Integer)
    max_tries: Mapped[int] = mapped_column(Integer, default=3)
    timeout: Mapped[int] = mapped_column(Integer, default=1800)
    docker_image: Mapped[str] = mapped_column(String(500))
    manifest: Mapped[dict[str, Any]]
    configuration: Mapped[dict[str, Any]]
    revision_num: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime]
    deprecated: Mapped[datetime | None]
    paused: Mapped[datetime | None]
    last_modified: Mapped[datetime]


# The columns of a job type that its base JSON shows (Scale's JobTypeBaseSerializerV6, plus is_system): in
# executions, files and the job type status pages.
JOB_TYPE_BASE_COLUMNS = (
    JobType.id,
    JobType.name,
    JobType.version,
    JobType.title,
    JobType.description,
    JobType.is_active,
    JobType.is_paused,
    JobType.is_system,
    JobType.is_published,
    JobType.icon_code,
    JobType.unmet_resources,
)


class JobTypeRevision(Base):
    __tablename__ = "job_type_revisions"
    __table_args__ = (UniqueConstraint("job_type_id", "revision_num"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_types.id"))
    revision_num: Mapped[int] = mapped_column(Integer)
    docker_image: Mapped[str] = mapped_column(String(500))
    manifest: Mapped[dict[str, Any]]
    created: Mapped[datetime]

    job_type: Mapped[JobType] = relationship(lazy="raise")


class ScaleFile(Base):
    __tablename__ = "scale_files"
    __table_args__ = (Index("ix_scale_files_job_id_last_modified", "job_id", "last_modified", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    file_name: Mapped[str] = mapped_column(String(250), index=True)
    file_path: Mapped[str] = mapped_column(String(1000))
    file_type: Mapped[str] = mapped_column(String(50), default="SOURCE")
    media_type: Mapped[str] = mapped_column(String(250), default="application/octet-stream")
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes
    data_type_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    data_started: Mapped[datetime | None]
    data_ended: Mapped[datetime | None]
    source_started: Mapped[datetime | None]
    source_ended: Mapped[datetime | None]
    source_sensor_class: Mapped[str | None] = mapped_column(String(250))
    source_sensor: Mapped[str | None] = mapped_column(String(250))
    source_collection: Mapped[str | None] = mapped_column(String(250))
    source_task: Mapped[str | None] = mapped_column(String(250))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    # Migration 0007: what produced an output file (copied from its job when the file is recorded).
    job_exe_id: Mapped[int | None] = mapped_column(ForeignKey("job_executions.id"), index=True)
    job_output: Mapped[str | None] = mapped_column(String(250))
    job_type_id: Mapped[int | None] = mapped_column(ForeignKey("job_types.id"), index=True)
    recipe_id: Mapped[int | None] = mapped_column(ForeignKey("recipes.id"), index=True)
    recipe_type_id: Mapped[int | None] = mapped_column(ForeignKey("recipe_types.id"))
    recipe_node: Mapped[str | None] = mapped_column(String(250))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    created: Mapped[datetime]
    deleted: Mapped[datetime | None]
    last_modified: Mapped[datetime] = mapped_column(index=True)

    workspace: Mapped[Workspace] = relationship(lazy="raise")
    job: Mapped[Job | None] = relationship(lazy="raise", foreign_keys=[job_id])
    job_type: Mapped[JobType | None] = relationship(lazy="raise")
    recipe_type: Mapped[RecipeType | None] = relationship(lazy="raise")
    batch: Mapped[Batch | None] = relationship(lazy="raise")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_last_modified_id", "last_modified", "id"),
        Index("ix_jobs_status_last_modified", "status", "last_modified", "id"),
        Index("ix_jobs_queue", "status", "priority", "queued", "id"),
        # Migration 0004: the list by job type in its default order; source class within a collection.
        Index("ix_jobs_job_type_last_modified", "job_type_id", "last_modified", "id"),
        Index("ix_jobs_source_class_collection", "source_sensor_class", "source_collection"),
        # order=[-]duration (jobs/orderings.py), made by migration 0002 with its SQLite form too. Declared for
        # autogenerate, which reflects PostgreSQL's expression indexes (SQLite's it skips).
        Index("ix_jobs_duration", text("(ended - started) DESC NULLS FIRST"), text("id")).ddl_if(dialect="postgresql"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_types.id"))
    job_type_rev_id: Mapped[int] = mapped_column(ForeignKey("job_type_revisions.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("trigger_events.id"), index=True)
    recipe_id: Mapped[int | None] = mapped_column(ForeignKey("recipes.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    is_superseded: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    superseded_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), unique=True)
    superseded: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(50))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), index=True)
    error_id: Mapped[int | None] = mapped_column(ForeignKey("errors.id"), index=True)
    max_tries: Mapped[int] = mapped_column(Integer)
    num_exes: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=100)
    timeout: Mapped[int] = mapped_column(Integer, default=1800)
    input: Mapped[dict[str, Any]]
    input_file_size: Mapped[float] = mapped_column(Float, default=0.0)  # MiB
    output: Mapped[dict[str, Any] | None]
    configuration: Mapped[dict[str, Any] | None]
    source_started: Mapped[datetime | None] = mapped_column(index=True)
    source_ended: Mapped[datetime | None] = mapped_column(index=True)
    source_sensor_class: Mapped[str | None] = mapped_column(String(250), index=True)
    source_sensor: Mapped[str | None] = mapped_column(String(250), index=True)
    source_collection: Mapped[str | None] = mapped_column(String(250), index=True)
    source_task: Mapped[str | None] = mapped_column(String(250), index=True)
    created: Mapped[datetime] = mapped_column(index=True)
    queued: Mapped[datetime | None]
    started: Mapped[datetime | None] = mapped_column(index=True)
    ended: Mapped[datetime | None] = mapped_column(index=True)
    # Migration 0010: the dashboard's counts of the jobs whose status changed in a window.
    last_status_change: Mapped[datetime | None] = mapped_column(index=True)
    last_modified: Mapped[datetime]

    job_type: Mapped[JobType] = relationship(lazy="raise")
    job_type_rev: Mapped[JobTypeRevision] = relationship(lazy="raise")
    event: Mapped[TriggerEvent | None] = relationship(lazy="raise")
    recipe: Mapped[Recipe | None] = relationship(lazy="raise")
    batch: Mapped[Batch | None] = relationship(lazy="raise")
    node: Mapped[Node | None] = relationship(lazy="raise")
    error: Mapped[Error | None] = relationship(lazy="raise")
    superseded_job: Mapped[Job | None] = relationship(
        lazy="raise", remote_side="Job.id", foreign_keys=[superseded_job_id], back_populates="superseded_by_job"
    )
    superseded_by_job: Mapped[Job | None] = relationship(
        lazy="raise", foreign_keys=[superseded_job_id], back_populates="superseded_job", uselist=False
    )
    input_files: Mapped[list[JobInputFile]] = relationship(lazy="raise", order_by="JobInputFile.id")


class JobCount(Base):
    """A delta of the number of jobs of a (job_type_id, status): that number is sum(n) over the key's rows.

    Written only by triggers on jobs (migration 0003); read and compacted by jobs/counts.py.
    """

    __tablename__ = "job_counts"
    __table_args__ = (Index("ix_job_counts_status_job_type_id", "status", "job_type_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_type_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(50))
    n: Mapped[int] = mapped_column(BigInteger)


class JobTypeMetrics(Base):
    """What ended in one hour for one job type (migration 0013): jobs that reached COMPLETED or FAILED (by error
    category), and the queue and run times of the executions that ended them. Written by
    jobs/scaleui/metrics_store.py in the transaction that ends the job; read by GET
    /v6/metrics/job-types/plot-data/. Times in seconds."""

    __tablename__ = "job_type_metrics"
    __table_args__ = (
        UniqueConstraint("job_type_id", "occurred"),
        Index("ix_job_type_metrics_occurred", "occurred", "job_type_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_types.id"))
    occurred: Mapped[datetime]  # the start of the hour (UTC)
    completed_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    error_system_count: Mapped[int] = mapped_column(Integer, default=0)
    error_data_count: Mapped[int] = mapped_column(Integer, default=0)
    error_algorithm_count: Mapped[int] = mapped_column(Integer, default=0)
    queue_count: Mapped[int] = mapped_column(Integer, default=0)  # executions with a queue time
    queue_time_sum: Mapped[float] = mapped_column(Float, default=0.0)
    queue_time_min: Mapped[float | None] = mapped_column(Float)
    queue_time_max: Mapped[float | None] = mapped_column(Float)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    run_time_sum: Mapped[float] = mapped_column(Float, default=0.0)
    run_time_min: Mapped[float | None] = mapped_column(Float)
    run_time_max: Mapped[float | None] = mapped_column(Float)


class JobInputFile(Base):
    __tablename__ = "job_input_files"
    __table_args__ = (UniqueConstraint("job_id", "job_input", "input_file_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    input_file_id: Mapped[int] = mapped_column(ForeignKey("scale_files.id"), index=True)
    job_input: Mapped[str] = mapped_column(String(250))
    created: Mapped[datetime]

    input_file: Mapped[ScaleFile] = relationship(lazy="raise")


class JobExecution(Base):
    __tablename__ = "job_executions"
    __table_args__ = (
        UniqueConstraint("job_id", "exe_num"),
        Index("ix_job_executions_node_status", "node_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_types.id"))
    exe_num: Mapped[int] = mapped_column(Integer)
    cluster_id: Mapped[str] = mapped_column(String(100), unique=True)
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    # RUNNING until the execution ends, then how it ended.
    status: Mapped[str] = mapped_column(String(50), index=True)
    error_id: Mapped[int | None] = mapped_column(ForeignKey("errors.id"), index=True)
    timeout: Mapped[int] = mapped_column(Integer)
    input_file_size: Mapped[float] = mapped_column(Float)
    resources: Mapped[dict[str, Any]]
    configuration: Mapped[dict[str, Any]]
    task_results: Mapped[dict[str, Any] | None]
    output: Mapped[dict[str, Any] | None]
    # The last log order number handed out for this execution (see JobStore.reserve_log_sequence).
    log_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Set while a local worker holds the execution (it renews it as the job runs); an execution still RUNNING
    # past it lost its worker. NULL for executions started through the API: their executors answer for them.
    lease_expires: Mapped[datetime | None]
    queued: Mapped[datetime | None]
    started: Mapped[datetime]
    ended: Mapped[datetime | None] = mapped_column(index=True)  # migration 0006: recent ones for /v6/status/
    created: Mapped[datetime]
    last_modified: Mapped[datetime]

    job: Mapped[Job] = relationship(lazy="raise")
    job_type: Mapped[JobType] = relationship(lazy="raise")
    node: Mapped[Node | None] = relationship(lazy="raise")
    error: Mapped[Error | None] = relationship(lazy="raise")


class JobEvent(Base):
    """A trigger event that changed a job after it was created (cancel, requeue: who did it and when).

    The job's own event_id stays the event that created it; migration 0006.
    """

    __tablename__ = "job_events"
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("trigger_events.id"), primary_key=True, index=True)


class User(Base):
    """A named person (migration 0006): staff may write, others only read. Django's field names."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    # An argon2 hash (jobs.credentials); NULL: no password login (personal tokens only).
    password: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    date_joined: Mapped[datetime]
    last_login: Mapped[datetime | None]
    last_modified: Mapped[datetime]


class ApiToken(Base):
    """A personal API token: only its SHA-256 is kept (jobs.credentials.token_digest). Its scope (migration 0010):
    "user" acts as its owner; "executor" may only start, update and finish executions and send their log lines,
    and, bound to a node, only those of that node. It stops working at `expires` (NULL: never works)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, so its owner can tell tokens apart in a listing.
    prefix: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime]
    revoked: Mapped[datetime | None]
    scope: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    node: Mapped[str | None] = mapped_column(String(250))
    expires: Mapped[datetime | None]


class UserSession(Base):
    """A browser login: the cookie's key is kept as its SHA-256 only; it ends at `expires` or at logout."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created: Mapped[datetime]
    expires: Mapped[datetime] = mapped_column(index=True)
    # The session's last request (to the minute): idle longer than SESSION_IDLE_SECONDS, it has ended (0010).
    last_seen: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed password logins of one username from one client address (migration 0010): one row per pair,
    counted by a single upsert, cleared by a success; `retry_at` (epoch seconds) is when the next attempt of the
    pair may be verified (jobs.user_store.LoginLimits says how it backs off)."""

    __tablename__ = "login_throttles"
    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    retry_at: Mapped[float] = mapped_column(Float)
    last_failure: Mapped[datetime] = mapped_column(index=True)


class DailyTask(Base):
    """One row per (task, UTC day) a process of the fleet claimed (migration 0009): the first to insert runs the
    task that day, the others see the row and skip (e.g. the log retention prune)."""

    __tablename__ = "daily_tasks"
    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    claimed_at: Mapped[datetime]


class TaskClaim(Base):
    """A periodic task of the fleet (migration 0016), claimed by one process until claim_until: the lease expiry
    every API process runs on a timer acts in one of them per period."""

    __tablename__ = "task_claims"
    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(255))
    claim_until: Mapped[datetime]


class SavedSearch(Base):
    """A log search kept under a name (migration 0014): the query string of /v6/logs/, private or shared."""

    __tablename__ = "saved_searches"
    __table_args__ = (UniqueConstraint("owner", "name", name="uq_saved_searches_owner_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(150))
    query: Mapped[str] = mapped_column(String(4000))
    shared: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime]
    last_modified: Mapped[datetime]


class AlertRule(Base):
    """A threshold on a saved search and where to notify (migration 0015); claimed_by/claim_until: the process
    checking it now (jobs/alert_store.py)."""

    __tablename__ = "alert_rules"
    __table_args__ = (Index("ix_alert_rules_next_check", "next_check"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    saved_search_id: Mapped[int] = mapped_column(ForeignKey("saved_searches.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(150))
    threshold: Mapped[int] = mapped_column(Integer)
    window_minutes: Mapped[int] = mapped_column(Integer)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    email_to: Mapped[str | None] = mapped_column(String(1000))
    enabled: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))
    last_count: Mapped[int | None] = mapped_column(BigInteger)
    last_checked: Mapped[datetime | None]
    next_check: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claim_until: Mapped[datetime | None]
    created: Mapped[datetime]
    last_modified: Mapped[datetime]


class AlertDelivery(Base):
    """One notification (fire or resolve) to one target of a rule, retried until delivered or given up."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_due", "status", "next_attempt"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claim_until: Mapped[datetime | None]
    created: Mapped[datetime]


class AlertEvent(Base):
    """One line of a rule's history: an evaluation or a delivery attempt."""

    __tablename__ = "alert_history"
    __table_args__ = (Index("ix_alert_history_rule", "rule_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str | None] = mapped_column(String(16))
    count: Mapped[int | None] = mapped_column(BigInteger)
    event: Mapped[str | None] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(16))
    attempt: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(String(500))
    holder: Mapped[str] = mapped_column(String(255))
