"""Workspaces (Scale's /v6/workspaces/): listed, looked up, created, edited and validated. Executors may report
files only into a workspace that exists and is active (jobs.output_files), and job type configurations may name
only existing ones (jobs.workspaces), so this is how a deployment makes them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError

from core.times import Clock
from jobs.db import Database
from jobs.errors import Invalid, NotFound
from jobs.models import Workspace
from jobs.records import OrderKey, Validation, ValidationIssue, WorkspaceFields
from jobs.scaleui.workspace_config import NAME_PATTERN, check_configuration, name_from_title, with_kept_secret

WORKSPACE_ORDER_FIELDS: dict[str, Any] = {
    name: getattr(Workspace, name)
    for name in (
        "id",
        "name",
        "title",
        "description",
        "base_url",
        "is_active",
        "created",
        "deprecated",
        "last_modified",
    )
}
MAX_NAME, MAX_TITLE, MAX_TEXT = 50, 50, 500  # the columns' sizes


def _check_fields(f: WorkspaceFields) -> None:
    """Raises Invalid for a value the table can't hold or Scale refused."""
    if f.name is not None and not re.match(NAME_PATTERN, f.name):
        raise Invalid(f'Parameter "name" must be 1 to {MAX_NAME} letters, digits, - or _')
    if f.title is not None and not 1 <= len(f.title) <= MAX_TITLE:
        raise Invalid(f'Parameter must be 1 to {MAX_TITLE} characters: "title"')
    for field in ("description", "base_url"):
        value = getattr(f, field)
        if value is not None and len(value) > MAX_TEXT:
            raise Invalid(f'Parameter must be at most {MAX_TEXT} characters: "{field}"')
    if f.base_url is not None and not f.base_url.startswith(("http://", "https://")):
        raise Invalid('Parameter must be an http(s) URL: "base_url"')
    if f.configuration is not None:
        check_configuration(f.configuration)


class WorkspaceStore:
    def __init__(self, db: Database, clock: Clock):
        self._sessions = db.sessions
        self._clock = clock

    def list_workspaces(
        self,
        started: datetime | None,
        ended: datetime | None,
        names: Sequence[str] | None,
        order: Sequence[OrderKey],
        offset: int,
        limit: int,
    ) -> tuple[int, list[Workspace]]:
        """Workspaces modified in [started, ended] with these names, ordered by `order` (default name), then id."""
        conditions: list[ColumnElement[bool]] = []
        if started is not None:
            conditions.append(Workspace.last_modified >= started)
        if ended is not None:
            conditions.append(Workspace.last_modified <= ended)
        if names is not None:
            conditions.append(Workspace.name.in_(names))
        clauses = []
        for key in list(order) or [OrderKey("name")]:
            column = WORKSPACE_ORDER_FIELDS.get(key.field)
            if column is None:
                raise Invalid(f'Invalid order field: "{key.field}"')
            clauses.append(column.desc().nulls_first() if key.descending else column.asc().nulls_last())
        with self._sessions() as s:
            count = s.execute(select(func.count()).select_from(Workspace).where(*conditions)).scalar_one()
            rows = s.scalars(
                select(Workspace).where(*conditions).order_by(*clauses, Workspace.id).offset(offset).limit(limit)
            ).all()
        return count, list(rows)

    def get_workspace(self, workspace_id: int) -> Workspace | None:
        with self._sessions() as s:
            return s.get(Workspace, workspace_id)

    def validate_workspace(self, f: WorkspaceFields) -> Validation:
        """What creating (or, for an existing name, editing) this workspace would say, nothing saved."""
        if f.name is not None and f.configuration is not None:
            with self._sessions() as s:
                stored = s.scalar(select(Workspace.json_config).where(Workspace.name == f.name))
            f = replace(f, configuration=with_kept_secret(f.configuration, stored))
        try:
            _check_fields(f)
            if f.title is None and f.name is None:
                raise Invalid('Missing required parameter: "title"')
            if f.configuration is None:
                raise Invalid('Missing required parameter: "configuration"')
        except Invalid as exc:
            return Validation(False, [ValidationIssue("INVALID_WORKSPACE", str(exc))], [])
        warnings = []
        broker = f.configuration["broker"]
        if broker["type"] != "host":
            warnings.append(
                ValidationIssue(
                    "NOT_WRITTEN_HERE",
                    f"A {broker['type']} workspace is kept as a description: this service's executors write only"
                    " into host-path workspaces",
                )
            )
        return Validation(True, [], warnings)

    def create_workspace(self, f: WorkspaceFields) -> Workspace:
        """A new workspace: title and configuration required, the name derived from the title unless given.
        Raises Invalid (a taken name too)."""
        if f.title is None:
            raise Invalid('Missing required parameter: "title"')
        if f.configuration is None:
            raise Invalid('Missing required parameter: "configuration"')
        name = f.name if f.name is not None else name_from_title(f.title)
        _check_fields(replace(f, name=name))
        now = self._clock()
        is_active = True if f.is_active is None else f.is_active
        row = Workspace(
            name=name,
            title=f.title,
            description=f.description,
            base_url=f.base_url,
            is_active=is_active,
            json_config=f.configuration,
            created=now,
            deprecated=None if is_active else now,
            last_modified=now,
        )
        try:
            with self._sessions.begin() as s:
                s.add(row)
        except IntegrityError:
            raise Invalid(f"A workspace named '{name}' already exists") from None
        return row

    def edit_workspace(self, workspace_id: int, f: WorkspaceFields) -> Workspace:
        """Change what is given (the name stays: files and configurations refer to it). Raises NotFound, Invalid."""
        if f.name is not None:
            raise Invalid('Field may not be changed: "name"')
        _check_fields(replace(f, configuration=None))
        now = self._clock()
        with self._sessions.begin() as s:
            row = s.get(Workspace, workspace_id, with_for_update=True)
            if row is None:
                raise NotFound(f"workspace {workspace_id}")
            if f.configuration is not None:
                f = replace(f, configuration=with_kept_secret(f.configuration, row.json_config))
                check_configuration(f.configuration)
            for field in ("title", "description", "base_url"):
                if getattr(f, field) is not None:
                    setattr(row, field, getattr(f, field))
            if f.configuration is not None:
                row.json_config = f.configuration
            if f.is_active is not None and f.is_active != row.is_active:
                row.is_active = f.is_active
                row.deprecated = None if f.is_active else now
            row.last_modified = now
        return row
