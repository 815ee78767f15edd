"""The job list's `order` fields: job columns, `<relation>__<column>` of its relations (also written
`<relation>.<column>`, as Scale's UI sends them), and `duration`. A bare relation name orders by its id (Django's
rule for a related model without a default ordering, which Scale's models don't declare)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Select, func
from sqlalchemy.orm import aliased

from jobs.errors import Invalid
from jobs.models import Batch, Error, Job, JobType, JobTypeRevision, Node, Recipe, TriggerEvent, UtcDateTime
from jobs.records import OrderKey

# relation name -> (model, foreign key column on Job)
RELATIONS = {
    "job_type": (JobType, Job.job_type_id),
    "job_type_rev": (JobTypeRevision, Job.job_type_rev_id),
    "event": (TriggerEvent, Job.event_id),
    "recipe": (Recipe, Job.recipe_id),
    "batch": (Batch, Job.batch_id),
    "node": (Node, Job.node_id),
    "error": (Error, Job.error_id),
}


def _orderable(model) -> list[str]:
    return [c.name for c in model.__table__.columns if not isinstance(c.type, JSON)]


JOB_ORDER_FIELDS: frozenset[str] = frozenset(
    _orderable(Job)
    + ["duration"]
    + list(RELATIONS)
    + [f"{rel}__{col}" for rel, (model, _) in RELATIONS.items() for col in _orderable(model)]
)


def _index_column(field: str) -> str:
    """The jobs column an order field sorts by directly (a bare relation: its key); relation columns have none."""
    return RELATIONS[field][1].key if field in RELATIONS else field


def order_field(name: str) -> str:
    """The order field `name` stands for: `relation.column` is an alias of `relation__column`."""
    relation, dot, column = name.partition(".")
    return f"{relation}__{column}" if dot and relation in RELATIONS else name


# Column lists of the jobs table's indexes (expression indexes left out: duration is named below).
_INDEXED: tuple[tuple[str, ...], ...] = tuple(
    tuple(c.name for c in index.columns)
    for index in Job.__table__.indexes  # type: ignore[attr-defined]
    if len(index.columns) == len(index.expressions)
)
# Times with an index of their own: their values hardly repeat, so the id tie-breaker only sorts tiny groups.
_FINE_GRAINED = frozenset(
    cols[0] for cols in _INDEXED if len(cols) == 1 and isinstance(Job.__table__.columns[cols[0]].type, UtcDateTime)
)


def served_by_an_index(keys: Sequence[OrderKey]) -> bool:
    """Whether an index gives the job list this order without sorting every matching job: the keys, all in one
    direction, then the id tie-breaker, are the leading columns of one index; or the key is one time column
    with its own index, or duration (ix_jobs_duration), or id."""
    fields = [order_field(k.field) for k in keys] or ["last_modified"]
    if len({k.descending for k in keys}) > 1 or any("__" in f for f in fields):
        return False
    if fields[-1] == "id":
        fields = fields[:-1]
    if not fields or fields == ["duration"] or (len(fields) == 1 and fields[0] in _FINE_GRAINED):
        return True
    columns = (*(_index_column(f) for f in fields), "id")
    return any(cols[: len(columns)] == columns for cols in _INDEXED)


# The single fields an index serves alone, for messages.
INDEXED_ORDER_FIELDS: frozenset[str] = frozenset(
    f for f in JOB_ORDER_FIELDS if "__" not in f and served_by_an_index([OrderKey(f)])
)


def duration(postgres: bool):
    """ended - started: an interval on PostgreSQL, days (a float) on SQLite; NULL unless both are set.

    Must stay identical to the expressions of the index ix_jobs_duration (migration 0002), or ordering by
    duration falls back to sorting every job.
    """
    return (Job.ended - Job.started) if postgres else (func.julianday(Job.ended) - func.julianday(Job.started))


def order_by(stmt: Select, keys: Sequence[OrderKey], postgres: bool) -> Select:
    """Apply the keys in sequence (default last_modified), then id; NULLs sort as PostgreSQL does (last ascending)."""
    keys = [OrderKey(order_field(k.field), k.descending) for k in keys] or [OrderKey("last_modified")]
    joined: dict[str, Any] = {}
    clauses = []
    for key in keys:
        if key.field not in JOB_ORDER_FIELDS:
            raise Invalid(f'Invalid order field: "{key.field}"')
        nullable = True
        if key.field == "duration":
            expr = duration(postgres)
            if not postgres:
                # SQLite can't use an index for an explicit NULLS FIRST/LAST (its NULLs sort first ascending), so
                # NULL placement becomes a leading `IS NULL` key: same order, and the keys of ix_jobs_duration.
                flag = expr.is_(None)
                clauses.append(flag.desc() if key.descending else flag.asc())
                nullable = False
        elif "__" in key.field:
            rel, col = key.field.split("__", 1)
            model, fk = RELATIONS[rel]
            if rel not in joined:
                joined[rel] = aliased(model)
                stmt = stmt.outerjoin(joined[rel], joined[rel].id == fk)
            expr = getattr(joined[rel], col)
        else:
            column = Job.__table__.columns[RELATIONS[key.field][1].key if key.field in RELATIONS else key.field]
            expr, nullable = getattr(Job, column.key), column.nullable
        if key.descending:
            expr = expr.desc().nulls_first() if nullable else expr.desc()
        else:
            expr = expr.asc().nulls_last() if nullable else expr.asc()
        clauses.append(expr)
    if not any(k.field == "id" for k in keys):
        clauses.append(Job.id.asc())
    return stmt.order_by(*clauses)
