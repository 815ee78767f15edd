"""The job list and a job's own row, read with SQLAlchemy Core: one SELECT joining what a job shows.

A job comes as a mapping (SQLAlchemy's RowMapping) of the job's columns under their own names and its
relations' columns as `<relation>__<column>` (job_type__name, error__category, recipe_type__title, ...), None when
the relation is absent. The list reads in two steps: the page's ids (filters and ordering on jobs alone, so an
index can serve them), then those jobs' rows by primary key, so the joins never run over more than one page.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, bindparam, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import aliased

from jobs import counts
from jobs.errors import Invalid
from jobs.filters import job_conditions
from jobs.models import (
    Batch,
    Error,
    Job,
    JobInputFile,
    JobType,
    JobTypeRevision,
    Node,
    Recipe,
    RecipeType,
    ScaleFile,
    TriggerEvent,
)
from jobs.orderings import INDEXED_ORDER_FIELDS, order_by, served_by_an_index
from jobs.records import JobQuery

_JSON = ("input", "output", "configuration")


def _labelled(table, prefix: str, names: tuple[str, ...]) -> list:
    return [table.c[name].label(f"{prefix}__{name}") for name in names]


# The columns of a job type that a job shows (its own, and those of the jobs it supersedes or is superseded by).
JOB_TYPE_COLUMNS = (
    "name",
    "version",
    "title",
    "description",
    "is_active",
    "is_paused",
    "is_system",
    "is_published",
    "icon_code",
    "unmet_resources",
)


def _job_select(details: bool):
    j = Job.__table__
    t, rev, event, recipe, recipe_type, batch, node, error = (
        m.__table__ for m in (JobType, JobTypeRevision, TriggerEvent, Recipe, RecipeType, Batch, Node, Error)
    )
    columns = [c for c in j.c if details or c.name not in _JSON]
    columns += _labelled(t, "job_type", JOB_TYPE_COLUMNS)
    columns += _labelled(rev, "job_type_rev", ("revision_num",))
    columns += _labelled(event, "event", ("type", "occurred"))
    columns += _labelled(recipe, "recipe", ("recipe_type_id", "recipe_type_rev_id", "event_id"))
    columns += _labelled(recipe_type, "recipe_type", ("name", "title", "description", "revision_num"))
    columns += _labelled(batch, "batch", ("title", "description", "created"))
    columns += _labelled(node, "node", ("hostname",))
    columns += _labelled(error, "error", ("name", "title", "description", "category"))
    joined = (
        j.join(t, t.c.id == j.c.job_type_id)
        .join(rev, rev.c.id == j.c.job_type_rev_id)
        .outerjoin(event, event.c.id == j.c.event_id)
        .outerjoin(recipe, recipe.c.id == j.c.recipe_id)
        .outerjoin(recipe_type, recipe_type.c.id == recipe.c.recipe_type_id)
        .outerjoin(batch, batch.c.id == j.c.batch_id)
        .outerjoin(node, node.c.id == j.c.node_id)
        .outerjoin(error, error.c.id == j.c.error_id)
    )
    if details:
        columns += _labelled(rev, "job_type_rev", ("docker_image", "created", "manifest"))
        columns += _labelled(t, "job_type", ("configuration",))
        # The job this one supersedes and the one superseding it (at most one each), with their job types.
        superseded, successor = aliased(j), aliased(j)
        for name, other, on in (
            ("superseded_job", superseded, superseded.c.id == j.c.superseded_job_id),
            ("superseded_by_job", successor, successor.c.superseded_job_id == j.c.id),
        ):
            other_type = aliased(t)
            columns += _labelled(other, name, ("id", "status", "job_type_id"))
            columns += _labelled(other_type, f"{name}_type", JOB_TYPE_COLUMNS)
            joined = joined.outerjoin(other, on).outerjoin(other_type, other_type.c.id == other.c.job_type_id)
    return select(*columns).select_from(joined)


# Built once: constant statements keep SQLAlchemy's compiled-statement cache warm without rebuilding keys.
_PAGE_ROWS = _job_select(details=False).where(Job.__table__.c.id.in_(bindparam("ids", expanding=True)))
_DETAIL_ROW = _job_select(details=True).where(Job.__table__.c.id == bindparam("id"))
_INPUT_FILES = (
    select(JobInputFile.job_id, JobInputFile.job_input, ScaleFile.file_name)
    .join(ScaleFile, ScaleFile.id == JobInputFile.input_file_id)
    .where(JobInputFile.job_id.in_(bindparam("ids", expanding=True)))
    .order_by(JobInputFile.id)
)


def _in_written_join_order(connection: Connection) -> None:
    """On PostgreSQL, plan the next joins in the order they are written, for the rest of this transaction.

    Searching join orders for the job SELECT's nine tables costs ~4 ms of planning, several times its running
    time (~0.5 ms); the written order (jobs by primary key, then one key lookup per relation) is the plan
    anyway. Measured on 1,000,000 jobs: planning 4.4 ms -> 0.6 ms.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL join_collapse_limit = 1")


def _total(connection: Connection, q: JobQuery, conditions: list[ColumnElement[bool]]) -> int:
    """Exact number of jobs matching q: from the maintained counters when they can answer, else count(*)."""
    counted = counts.count_jobs(connection, q)
    if counted is not None:
        return counted
    return connection.execute(select(func.count()).select_from(Job).where(*conditions)).scalar_one()


def page_of_jobs(
    connection: Connection, q: JobQuery, offset: int, limit: int, postgres: bool, bound: int | None = None
) -> tuple[int, list[RowMapping], dict[int, dict[str, list[str]]]]:
    """(total count, the page's jobs in order, input file names by job id and input).

    With a bound (anonymous and read-only clients), nothing may cost more than reading `bound` jobs: a page
    starting past the first `bound` jobs (a deep OFFSET reads and drops every job before it), or an order no
    index serves on a list longer than `bound` (a sort of every matching job), is Invalid, saying what to do.
    """
    conditions = job_conditions(connection, q)
    total = _total(connection, q, conditions)
    if offset >= total:
        return total, [], {}
    if bound is not None:
        check_bound(q, offset, total, bound)
    ids = connection.scalars(
        order_by(select(Job.id).where(*conditions), q.order, postgres).offset(offset).limit(limit)
    ).all()
    if not ids:
        return total, [], {}
    _in_written_join_order(connection)
    by_id = {job["id"]: job for job in connection.execute(_PAGE_ROWS, {"ids": ids}).mappings()}
    jobs = [by_id[i] for i in ids if i in by_id]  # a job deleted in between is left out
    return total, jobs, input_files(connection, ids)


NARROWER = "narrow the list with filters (status, job_type_name, job_type_id, started and ended, error_category, ...)"


def check_bound(q: JobQuery, offset: int, total: int, bound: int) -> None:
    if offset >= bound:
        raise Invalid(
            f"page: anonymous and read-only clients may page through the first {bound} jobs of a list, and this "
            f"page starts at job {offset + 1} of {total}; {NARROWER}, or reverse the order"
        )
    if total > bound and not served_by_an_index(q.order):
        fields = ", ".join(("-" if k.descending else "") + k.field for k in q.order)
        raise Invalid(
            f"order: no index serves the order {fields}, and anonymous and read-only clients may order by such "
            f"fields only lists of at most {bound} jobs (this one has {total}); {NARROWER}, or order by one of "
            f"{', '.join(sorted(INDEXED_ORDER_FIELDS))} (each may be negated)"
        )


def job_row(connection: Connection, job_id: int) -> RowMapping | None:
    """One job with its relations and JSON columns, for its details."""
    _in_written_join_order(connection)
    return connection.execute(_DETAIL_ROW, {"id": job_id}).mappings().first()


def input_files(connection: Connection, job_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    """File names of each job's inputs: {job id: {input name: [file names in the order they were added]}}."""
    names: dict[int, dict[str, list[str]]] = {i: {} for i in job_ids}
    for job_id, job_input, file_name in connection.execute(_INPUT_FILES, {"ids": job_ids}):
        names[job_id].setdefault(job_input, []).append(file_name)
    return names
