"""Periodic tasks of the fleet: claimed for a period by one process, as alert rules are (claimed_by and
claim_until, a conditional UPDATE), so however many API processes run a task's timer, one acts per period."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.times import Clock
from jobs.db import Database, rowcount
from jobs.models import TaskClaim


class TaskClaimStore:
    def __init__(self, db: Database, clock: Clock):
        self._sessions = db.sessions
        self._postgres = db.postgres
        self._clock = clock

    def claim(self, task: str, holder: str, seconds: float) -> bool:
        """True for the one caller that claims `task` for the next `seconds` (its previous claim has run out);
        False for every other until then."""
        now = self._clock()
        until = now + timedelta(seconds=seconds)
        insert = (postgresql.insert if self._postgres else sqlite.insert)(TaskClaim)
        with self._sessions.begin() as s:
            made = s.execute(
                insert.values(task=task, claimed_by=holder[:255], claim_until=until)
                .on_conflict_do_nothing(index_elements=["task"])
                .returning(TaskClaim.task)
            ).first()
            if made is not None:
                return True
            won = s.execute(
                update(TaskClaim)
                .where(TaskClaim.task == task, TaskClaim.claim_until <= now)
                .values(claimed_by=holder[:255], claim_until=until)
                .execution_options(synchronize_session=False)
            )
            return rowcount(won) == 1

    def holder(self, task: str) -> str | None:
        with self._sessions() as s:
            return s.scalar(select(TaskClaim.claimed_by).where(TaskClaim.task == task))
