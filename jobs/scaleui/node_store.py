"""Nodes (Scale's /v6/nodes/): the hosts executions ran on, recorded when an execution first starts on one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from jobs.db import Database
from jobs.errors import Invalid
from jobs.models import Node
from jobs.records import OrderKey

NODE_ORDER_FIELDS: dict[str, Any] = {
    name: getattr(Node, name) for name in ("id", "hostname", "created", "last_modified")
}


class NodeStore:
    def __init__(self, db: Database):
        self._sessions = db.sessions

    def list_nodes(
        self, started: datetime | None, ended: datetime | None, order: Sequence[OrderKey], offset: int, limit: int
    ) -> tuple[int, list[Node]]:
        """Nodes modified in [started, ended], ordered by `order` (default hostname), then id."""
        conditions: list[ColumnElement[bool]] = []
        if started is not None:
            conditions.append(Node.last_modified >= started)
        if ended is not None:
            conditions.append(Node.last_modified <= ended)
        clauses = []
        for key in list(order) or [OrderKey("hostname")]:
            column = NODE_ORDER_FIELDS.get(key.field)
            if column is None:
                raise Invalid(f'Invalid order field: "{key.field}"')
            clauses.append(column.desc() if key.descending else column.asc())
        with self._sessions() as s:
            count = s.execute(select(func.count()).select_from(Node).where(*conditions)).scalar_one()
            rows = s.scalars(select(Node).where(*conditions).order_by(*clauses, Node.id).offset(offset).limit(limit))
            return count, list(rows)

    def get_node(self, node_id: int) -> Node | None:
        with self._sessions() as s:
            return s.get(Node, node_id)
