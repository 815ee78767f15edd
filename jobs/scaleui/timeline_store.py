"""Scale's timeline of job types (GET /v6/timeline/job-types/, Data -> Timeline): per job type and UTC day, how
many of its jobs were created (queued) that day. One grouped read on the created index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from jobs.db import Database
from jobs.models import Job, JobType


class TimelineStore:
    def __init__(self, db: Database):
        self._db = db

    def job_types(
        self,
        started: datetime,
        ended: datetime | None,
        job_type_ids: Sequence[int] | None,
        names: Sequence[str] | None,
        versions: Sequence[str] | None,
    ) -> list[tuple[Any, list[tuple[str, int]]]]:
        """[(job type row (id, name, version, title, revision_num), [(YYYY-MM-DD, jobs created), ...])] for the
        types with jobs created in [started, ended], by name and version; days oldest first."""
        day = (
            func.to_char(func.timezone("UTC", Job.created), "YYYY-MM-DD")
            if self._db.postgres
            else func.strftime("%Y-%m-%d", Job.created)
        ).label("day")
        conditions: list[ColumnElement[bool]] = [Job.created >= started]
        if ended is not None:
            conditions.append(Job.created <= ended)
        type_conditions: list[ColumnElement[bool]] = []
        for values, column in ((job_type_ids, JobType.id), (names, JobType.name), (versions, JobType.version)):
            if values is not None:
                type_conditions.append(column.in_(values))
        if type_conditions:
            conditions.append(Job.job_type_id.in_(select(JobType.id).where(*type_conditions)))
        counted = (
            select(Job.job_type_id, day, func.count().label("n")).where(*conditions).group_by(Job.job_type_id, day)
        )
        with self._db.engine.connect() as c:
            per_day = list(c.execute(counted))
            ids = sorted({r.job_type_id for r in per_day})
            types = list(
                c.execute(
                    select(JobType.id, JobType.name, JobType.version, JobType.title, JobType.revision_num)
                    .where(JobType.id.in_(ids))
                    .order_by(JobType.name, JobType.version, JobType.id)
                )
            )
        days: dict[int, list[tuple[str, int]]] = {}
        for r in sorted(per_day, key=lambda r: r.day):
            days.setdefault(r.job_type_id, []).append((r.day, r.n))
        return [(t, days[t.id]) for t in types]
