"""Daily tasks of the fleet: claim (task, day) once, whichever process asks first."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from core.times import Clock
from jobs.db import Database
from jobs.models import DailyTask


class DailyTaskStore:
    def __init__(self, db: Database, clock: Clock):
        self._sessions = db.sessions
        self._clock = clock

    def claim(self, task: str, day: date, holder: str) -> bool:
        """True for the one caller that claims (task, day) first; False for every other (the primary key)."""
        try:
            with self._sessions.begin() as s:
                s.add(DailyTask(task=task, day=day, holder=holder[:255], claimed_at=self._clock()))
        except IntegrityError:
            return False
        return True

    def release(self, task: str, day: date) -> None:
        """Give the day back (the task failed), so another process may run it."""
        with self._sessions.begin() as s:
            s.execute(delete(DailyTask).where(DailyTask.task == task, DailyTask.day == day))
