"""Scale files: the list of GET /v6/files/ (Scale's FilesView filters and ordering), and the workspace the local
worker keeps its jobs' outputs in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, load_only

from core.times import Clock
from jobs.db import Database
from jobs.errors import Invalid
from jobs.execution_store import BASE_JOB_TYPE
from jobs.models import Job, JobType, ScaleFile, Workspace
from jobs.records import FileQuery, OrderKey

# What a Scale file's JSON shows besides its own columns.
FILE_LOAD = (
    joinedload(ScaleFile.workspace).options(load_only(Workspace.id, Workspace.name, Workspace.base_url)),
    joinedload(ScaleFile.job_type).options(BASE_JOB_TYPE),
    joinedload(ScaleFile.job).options(load_only(Job.id, Job.is_superseded, Job.superseded)),
    joinedload(ScaleFile.recipe_type),
    joinedload(ScaleFile.batch),
)
# FileQuery list fields -> the file column their values match (ORed within a field)
_IN_FILTERS = (
    ("source_sensor_classes", ScaleFile.source_sensor_class),
    ("source_sensors", ScaleFile.source_sensor),
    ("source_collections", ScaleFile.source_collection),
    ("source_tasks", ScaleFile.source_task),
    ("file_types", ScaleFile.file_type),
    ("media_types", ScaleFile.media_type),
    ("job_type_ids", ScaleFile.job_type_id),
    ("job_ids", ScaleFile.job_id),
    ("job_exe_ids", ScaleFile.job_exe_id),
    ("file_names", ScaleFile.file_name),
    ("job_outputs", ScaleFile.job_output),
    ("recipe_ids", ScaleFile.recipe_id),
    ("recipe_type_ids", ScaleFile.recipe_type_id),
    ("recipe_nodes", ScaleFile.recipe_node),
    ("batch_ids", ScaleFile.batch_id),
)
# (start, end, column the start is compared with, column the end is compared with), as Scale compared them
_WINDOWS = (
    ("data_started", "data_ended", ScaleFile.data_started, ScaleFile.data_ended),
    ("created_started", "created_ended", ScaleFile.created, ScaleFile.created),
    ("source_started", "source_ended", ScaleFile.source_started, ScaleFile.source_ended),
    ("modified_started", "modified_ended", ScaleFile.last_modified, ScaleFile.last_modified),
)
_SORTABLE = (
    "id",
    "file_name",
    "file_path",
    "file_type",
    "media_type",
    "file_size",
    "is_deleted",
    "created",
    "deleted",
    "last_modified",
    "data_started",
    "data_ended",
    "source_started",
    "source_ended",
    "source_sensor_class",
    "source_sensor",
    "source_collection",
    "source_task",
    "job_output",
    "recipe_node",
    "job_id",
    "job_exe_id",
    "job_type_id",
    "recipe_id",
    "recipe_type_id",
    "batch_id",
    "workspace_id",
)
# order names: the file's columns, Scale's relation spellings of their ids, and the job type's name and version
FILE_ORDER_FIELDS: dict[str, Any] = {
    **{name: getattr(ScaleFile, name) for name in _SORTABLE},
    **{f"{rel}__id": getattr(ScaleFile, f"{rel}_id") for rel in ("job", "job_exe", "job_type", "recipe", "batch")},
    "workspace__id": ScaleFile.workspace_id,
    "workspace__name": Workspace.name,
    "job_type__name": JobType.name,
    "job_type__version": JobType.version,
}


def file_conditions(q: FileQuery) -> list[ColumnElement[bool]]:
    c: list[ColumnElement[bool]] = []
    for start, end, start_column, end_column in _WINDOWS:
        if getattr(q, start) is not None:
            c.append(start_column >= getattr(q, start))
        if getattr(q, end) is not None:
            c.append(end_column <= getattr(q, end))
    for field, column in _IN_FILTERS:
        values = getattr(q, field)
        if values is not None:
            c.append(column.in_(values))
    if q.job_type_names is not None:
        c.append(ScaleFile.job_type_id.in_(select(JobType.id).where(JobType.name.in_(q.job_type_names))))
    if q.countries is not None:
        c.append(false())  # no file here has a geometry, so none lies in any country
    return c


def _order(stmt, keys: Sequence[OrderKey]):
    """Apply the keys in sequence (default last_modified), then id; NULLs sort as PostgreSQL does."""
    clauses = []
    joined = set()
    for key in list(keys) or [OrderKey("last_modified")]:
        expr = FILE_ORDER_FIELDS.get(key.field)
        if expr is None:
            raise Invalid(f'Invalid order field: "{key.field}"')
        if key.field.startswith("job_type__") and "job_type" not in joined:
            stmt = stmt.outerjoin(JobType, JobType.id == ScaleFile.job_type_id)
            joined.add("job_type")
        elif key.field == "workspace__name" and "workspace" not in joined:
            stmt = stmt.join(Workspace, Workspace.id == ScaleFile.workspace_id)
            joined.add("workspace")
        clauses.append(expr.desc().nulls_first() if key.descending else expr.asc().nulls_last())
    if not any(k.field == "id" for k in keys):
        clauses.append(ScaleFile.id.asc())
    return stmt.order_by(*clauses)


def ordered_ids(q: FileQuery) -> Select:
    """The ids of the files matching q, in q's order (the list's statement, before OFFSET and LIMIT)."""
    return _order(select(ScaleFile.id).where(*file_conditions(q)), q.order)


# Orders an index gives without sorting every matching file (each alone, either direction, then the id): the
# file's id, and last_modified (the default; its own index, and ix_scale_files_job_id_last_modified for one job).
FILE_INDEXED_ORDERS = frozenset({"id", "last_modified"})


def served_by_an_index(keys: Sequence[OrderKey]) -> bool:
    fields = [k.field for k in keys]
    if fields[-1:] == ["id"] and len(fields) > 1 and keys[-1].descending == keys[0].descending:
        fields = fields[:-1]
    return len(fields) <= 1 and all(f in FILE_INDEXED_ORDERS for f in fields)


NARROWER = "narrow the list with filters (job_id, job_type_name, the created/data/source windows, ...)"


class FileStore:
    def __init__(self, db: Database, clock: Clock):
        self._sessions = db.sessions
        self._postgres = db.postgres
        self._clock = clock

    def list_files(
        self, q: FileQuery, offset: int, limit: int, bound: int | None = None
    ) -> tuple[int, list[ScaleFile]]:
        """The total count and one page of the matching files (an unknown id simply matches none). With a bound
        (clients who aren't staff), a page starting past the first `bound` files is Invalid: a deep OFFSET reads
        and drops every file before it."""
        conditions = file_conditions(q)
        ids = ordered_ids(q)
        with self._sessions() as s:
            count = s.execute(select(func.count()).select_from(ScaleFile).where(*conditions)).scalar_one()
            if bound is not None and bound <= offset < count:
                raise Invalid(
                    f"page: anonymous and read-only clients may page through the first {bound} files of a list, and "
                    f"this page starts at file {offset + 1} of {count}; {NARROWER}, or reverse the order"
                )
            if bound is not None and count > bound and not served_by_an_index(q.order):
                fields = ", ".join(("-" if k.descending else "") + k.field for k in q.order)
                raise Invalid(
                    f"order: no index serves the order {fields}, and anonymous and read-only clients may order by "
                    f"such fields only lists of at most {bound} files (this one has {count}); {NARROWER}, or order "
                    f"by one of {', '.join(sorted(FILE_INDEXED_ORDERS))} (each may be negated)"
                )
            page = list(s.scalars(ids.offset(offset).limit(limit)))
            rows = {f.id: f for f in s.scalars(select(ScaleFile).where(ScaleFile.id.in_(page)).options(*FILE_LOAD))}
        return count, [rows[i] for i in page if i in rows]

    def ensure_workspace(self, name: str, title: str, host_path: str, base_url: str | None = None) -> int:
        """The id of the named workspace, created (a host-path broker at host_path) if it does not exist yet."""
        now = self._clock()
        insert = (postgresql.insert if self._postgres else sqlite.insert)(Workspace)
        with self._sessions.begin() as s:
            s.execute(
                insert.values(
                    name=name,
                    title=title[:50],
                    description="Outputs of the jobs the local worker ran",
                    base_url=base_url,
                    is_active=True,
                    json_config={"version": "1.0", "broker": {"type": "host", "host_path": host_path}},
                    created=now,
                    last_modified=now,
                ).on_conflict_do_nothing(index_elements=["name"])
            )
            return s.execute(select(Workspace.id).where(Workspace.name == name)).scalar_one()
