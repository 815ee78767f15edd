"""The WHERE clause of a JobQuery, shared by the job list, its count, cancel and requeue."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, Select, and_, false, or_, select
from sqlalchemy.orm import Session

from jobs.errors import Invalid
from jobs.models import Error, Job, JobType
from jobs.records import JobQuery

# JobQuery list fields -> the job column their values match (ORed within a field)
_IN_FILTERS = (
    ("source_sensor_classes", Job.source_sensor_class),
    ("source_sensors", Job.source_sensor),
    ("source_collections", Job.source_collection),
    ("source_tasks", Job.source_task),
    ("statuses", Job.status),
    ("job_ids", Job.id),
    ("job_type_ids", Job.job_type_id),
    ("batch_ids", Job.batch_id),
    ("recipe_ids", Job.recipe_id),
    ("error_ids", Job.error_id),
)


def job_type_ids(names: Sequence[str] | None, versions: Sequence[str] | None) -> Select:
    """Ids of the job types with these names, these versions, or both: (names[i], versions[i]) pairs when both
    are given (the same number of each, as Scale's UI sends them)."""
    if names is not None and versions is not None:
        if len(names) != len(versions):
            raise Invalid("job_type_version must give one version for each job_type_name")
        pairs = [and_(JobType.name == name, JobType.version == version) for name, version in zip(names, versions)]
        return select(JobType.id).where(or_(false(), *pairs))
    if names is not None:
        return select(JobType.id).where(JobType.name.in_(names))
    return select(JobType.id).where(JobType.version.in_(versions or ()))


def job_conditions(connection: Connection | Session, q: JobQuery) -> list[ColumnElement[bool]]:
    """Conditions on jobs for q (a Connection or Session runs the job_types lookups); raises Invalid for a
    (name, version) in q.job_types that does not exist, as cancel and requeue report it."""
    c: list[ColumnElement[bool]] = []
    if q.started is not None:
        c.append(Job.last_modified >= q.started)
    if q.ended is not None:
        c.append(Job.last_modified <= q.ended)
    if q.source_started is not None:
        c.append(Job.source_started >= q.source_started)
    if q.source_ended is not None:
        c.append(Job.source_ended <= q.source_ended)
    for field, column in _IN_FILTERS:
        values = getattr(q, field)
        if values is not None:
            c.append(column.in_(values))
    if q.job_type_names is not None or q.job_type_versions is not None:
        c.append(Job.job_type_id.in_(job_type_ids(q.job_type_names, q.job_type_versions)))
    if q.job_types is not None:
        ids = []
        for name, version in q.job_types:
            found = connection.scalar(select(JobType.id).where(JobType.name == name, JobType.version == version))
            if found is None:
                raise Invalid(f'Job type "{name}" version "{version}" does not exist')
            ids.append(found)
        c.append(Job.job_type_id.in_(ids))
    if q.error_categories is not None:
        c.append(Job.error_id.in_(select(Error.id).where(Error.category.in_(q.error_categories))))
    if q.is_superseded is not None:
        c.append(Job.is_superseded.is_(q.is_superseded))
    return c
