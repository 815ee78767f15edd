"""Scale's error catalogue (GET /v6/errors/): the built-in errors and those the job types' Seed manifests declare
(saved with each job type, jobs.job_type_store), and those executors reported by title."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from jobs.db import Database
from jobs.errors import Invalid
from jobs.models import Error
from jobs.records import OrderKey

ERROR_ORDER_FIELDS: dict[str, Any] = {
    name: getattr(Error, name)
    for name in (
        "id",
        "name",
        "title",
        "description",
        "category",
        "is_builtin",
        "job_type_name",
        "created",
        "last_modified",
    )
}


class ErrorStore:
    def __init__(self, db: Database):
        self._sessions = db.sessions

    def list_errors(
        self,
        started: datetime | None,
        ended: datetime | None,
        is_builtin: bool | None,
        job_type_names: Sequence[str] | None,
        names: Sequence[str] | None,
        categories: Sequence[str] | None,
        order: Sequence[OrderKey],
        offset: int,
        limit: int,
    ) -> tuple[int, list[Error]]:
        c: list[ColumnElement[bool]] = []
        if started is not None:
            c.append(Error.last_modified >= started)
        if ended is not None:
            c.append(Error.last_modified <= ended)
        if is_builtin is not None:
            c.append(Error.is_builtin == is_builtin)
        for values, column in (
            (job_type_names, Error.job_type_name),
            (names, Error.name),
            (categories, Error.category),
        ):
            if values is not None:
                c.append(column.in_(values))
        clauses = []
        for key in list(order) or [OrderKey("name")]:
            order_by = ERROR_ORDER_FIELDS.get(key.field)
            if order_by is None:
                raise Invalid(f'Invalid order field: "{key.field}"')
            clauses.append(order_by.desc().nulls_first() if key.descending else order_by.asc().nulls_last())
        with self._sessions() as s:
            count = s.execute(select(func.count()).select_from(Error).where(*c)).scalar_one()
            rows = s.scalars(select(Error).where(*c).order_by(*clauses, Error.id).offset(offset).limit(limit))
            return count, list(rows)

    def get_error(self, error_id: int) -> Error | None:
        with self._sessions() as s:
            return s.get(Error, error_id)
