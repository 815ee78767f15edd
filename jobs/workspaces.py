"""Workspaces a configuration names must exist (Scale checks them when a job type or a job is saved)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.errors import Invalid
from jobs.models import Workspace


def check_workspaces(s: Session, configuration: dict) -> None:
    workspaces = configuration.get("output_workspaces") or {}
    names = {workspaces["default"]} if workspaces.get("default") else set()
    names |= set((workspaces.get("outputs") or {}).values())
    known = set(s.scalars(select(Workspace.name).where(Workspace.name.in_(names))))
    for name in sorted(names - known):
        raise Invalid(f"Job type configuration invalid: workspace '{name}' does not exist")
