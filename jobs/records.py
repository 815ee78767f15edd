"""What the stores take and return besides ORM rows: query filters and what an executor or a reader gets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class LogTarget:
    """An execution as the log pipeline needs it."""

    id: int
    job_id: int
    exe_num: int
    cluster_id: str
    status: str
    node: str | None
    job_type_name: str
    job_type_version: str
    started: datetime | None
    ended: datetime | None
    is_finished: bool
    # The service's own clock, unlike started/ended (which an executor may report): when the execution was
    # registered, and when it left RUNNING (its last_modified then: nothing changes a finished execution).
    registered: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class ClaimedExecution:
    """An execution just started on a node: what a worker needs to run it."""

    id: int
    job_id: int
    exe_num: int
    cluster_id: str
    node: str
    job_type_name: str
    job_type_version: str
    docker_image: str
    manifest: dict[str, Any]
    input: dict[str, Any]
    configuration: dict[str, Any]
    timeout: int
    started: datetime
    # {"cpus", "mem" (MiB), "disk" (MiB), "gpus", ...}: what the execution was given (seed.job_resources)
    resources: dict[str, float] | None = None


@dataclass(frozen=True)
class OrderKey:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class JobQuery:
    """Filters of the job list, cancel and requeue; None means no restriction, values in a list are ORed.

    job_types are (name, version) pairs that must exist (cancel/requeue); order applies to the list only.
    """

    started: datetime | None = None  # on last_modified
    ended: datetime | None = None
    source_started: datetime | None = None
    source_ended: datetime | None = None
    source_sensor_classes: Sequence[str] | None = None
    source_sensors: Sequence[str] | None = None
    source_collections: Sequence[str] | None = None
    source_tasks: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    job_types: Sequence[tuple[str, str]] | None = None
    job_ids: Sequence[int] | None = None
    job_type_ids: Sequence[int] | None = None
    job_type_names: Sequence[str] | None = None
    # With job_type_names: one version per name, pairwise (name[i], version[i]); alone: any name.
    job_type_versions: Sequence[str] | None = None
    batch_ids: Sequence[int] | None = None
    recipe_ids: Sequence[int] | None = None
    error_categories: Sequence[str] | None = None
    error_ids: Sequence[int] | None = None
    is_superseded: bool | None = None
    order: Sequence[OrderKey] = ()


@dataclass(frozen=True)
class ExecutionQuery:
    statuses: Sequence[str] | None = None
    node_ids: Sequence[int] | None = None
    error_ids: Sequence[int] | None = None
    error_categories: Sequence[str] | None = None


@dataclass(frozen=True)
class InputFileQuery:
    started: datetime | None = None
    ended: datetime | None = None
    time_field: str = "last_modified"  # source | data | last_modified
    file_names: Sequence[str] | None = None
    job_inputs: Sequence[str] | None = None


@dataclass(frozen=True)
class JobTypeQuery:
    keyword: str | None = None
    ids: Sequence[int] | None = None
    is_active: bool | None = None
    is_system: bool | None = None


@dataclass(frozen=True)
class JobDetail:
    """A job with everything its details need: its mapping (as jobs.listing reads it), its input files' names by
    input, the execution of its current try (an ORM JobExecution detached from its session, or None) and its
    type's versions."""

    job: Any
    input_files: dict[str, list[str]]
    execution: Any
    num_versions: int
    latest_version: str


@dataclass(frozen=True)
class FileQuery:
    """Filters of GET /v6/files/ (Scale's FilesView); None means no restriction, values in a list are ORed."""

    data_started: datetime | None = None
    data_ended: datetime | None = None
    created_started: datetime | None = None
    created_ended: datetime | None = None
    source_started: datetime | None = None
    source_ended: datetime | None = None
    modified_started: datetime | None = None
    modified_ended: datetime | None = None
    source_sensor_classes: Sequence[str] | None = None
    source_sensors: Sequence[str] | None = None
    source_collections: Sequence[str] | None = None
    source_tasks: Sequence[str] | None = None
    file_types: Sequence[str] | None = None
    media_types: Sequence[str] | None = None
    countries: Sequence[str] | None = None
    job_type_ids: Sequence[int] | None = None
    job_type_names: Sequence[str] | None = None
    job_ids: Sequence[int] | None = None
    job_exe_ids: Sequence[int] | None = None
    file_names: Sequence[str] | None = None
    job_outputs: Sequence[str] | None = None
    recipe_ids: Sequence[int] | None = None
    recipe_type_ids: Sequence[int] | None = None
    recipe_nodes: Sequence[str] | None = None
    batch_ids: Sequence[int] | None = None
    order: Sequence[OrderKey] = ()


@dataclass(frozen=True)
class OutputFile:
    """A file an execution produced, as its executor reports it. Without a path, the path is the name; without a
    media type, one is guessed from the name; without a workspace, the job's output workspace is used."""

    file_name: str
    file_size: int
    file_path: str | None = None
    media_type: str | None = None
    workspace: str | None = None
    job_output: str | None = None
    data_started: datetime | None = None
    data_ended: datetime | None = None


@dataclass(frozen=True)
class Person:
    """A named user as everyone above the store sees one: never the password hash."""

    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    is_staff: bool
    is_active: bool
    has_password: bool
    date_joined: datetime
    last_login: datetime | None


@dataclass(frozen=True)
class TokenInfo:
    """A personal API token without its secret (only its first characters)."""

    id: int
    username: str
    name: str
    prefix: str
    created: datetime
    revoked: datetime | None
    scope: str = "user"  # "user": acts as its owner; "executor": executions and their log lines only
    node: str | None = None  # an executor token bound to a node acts only on that node's executions
    expires: datetime | None = None


@dataclass(frozen=True)
class TokenHolder:
    """Who a personal token speaks for, and within what: its scope and, for an executor token, its node."""

    person: Person
    scope: str
    node: str | None


@dataclass(frozen=True)
class NewSession:
    """A session just opened by a login: `key` goes into the cookie and is never stored."""

    key: str
    expires: datetime
    person: Person


@dataclass(frozen=True)
class ExecutionCount:
    """How many executions of a job type on a node are RUNNING, or ended COMPLETED or FAILED (with the error's
    category) within a status report's window."""

    node_id: int
    job_type_id: int
    status: str
    error_category: str | None
    count: int


@dataclass(frozen=True)
class StatusReport:
    """What GET /v6/status/ reports: the nodes seen (id, hostname), execution counts per node, job counts by
    status, and the job types the counts name (rows of id, name, version, title, description, is_system,
    icon_code)."""

    nodes: list[tuple[int, str]]
    executions: list[ExecutionCount]
    job_counts: dict[str, int]
    job_types: list[Any]


@dataclass(frozen=True)
class JobTypeStatusCount:
    """Jobs of a job type in one status (and, for failures, one error category): how many, and when the latest of
    them changed status."""

    status: str
    count: int
    most_recent: datetime | None
    category: str | None


@dataclass(frozen=True)
class JobTypeCounts:
    """A job type (a row of jobs.models.JOB_TYPE_BASE_COLUMNS) and its job counts."""

    job_type: Any
    job_counts: list[JobTypeStatusCount]


@dataclass(frozen=True)
class RunningJobType:
    """A job type with RUNNING jobs: how many, and since when the longest running one runs."""

    job_type: Any
    count: int
    longest_running: datetime | None


@dataclass(frozen=True)
class QueuedJobType:
    """A job type with QUEUED jobs: how many, since when the longest queued one waits, its highest priority."""

    job_type: Any
    count: int
    longest_queued: datetime | None
    highest_priority: int


@dataclass(frozen=True)
class ValidationIssue:
    """One finding of a job type validation (Scale's {"name", "description"})."""

    name: str
    description: str


@dataclass(frozen=True)
class Validation:
    is_valid: bool
    errors: list[ValidationIssue]
    warnings: list[ValidationIssue]


@dataclass(frozen=True)
class JobTypeName:
    """A job type name with its versions (newest first); the other fields are its latest version's."""

    latest: Any
    versions: list[str]


@dataclass(frozen=True)
class JobTypeChanges:
    """What a staff user may change on a job type (PATCH /v6/job-types/{name}/{version}/); None: unchanged."""

    icon_code: str | None = None
    is_published: bool | None = None
    is_active: bool | None = None
    is_paused: bool | None = None
    max_scheduled: int | None = None
    max_tries: int | None = None
    configuration: dict[str, Any] | None = None


@dataclass(frozen=True)
class WorkspaceFields:
    """A workspace as a client describes it (create, edit, validate); None: not given."""

    name: str | None = None
    title: str | None = None
    description: str | None = None
    base_url: str | None = None
    is_active: bool | None = None
    configuration: dict[str, Any] | None = None
