"""Saved log searches: a name, its owner, the query string of /v6/logs/, and whether others see it.

Who may see and change which search is decided here, from the caller's name and staff flag, so every route
asks the same question: a private search exists only for its owner; a shared one is seen by everyone who may
read logs and changed by its owner or staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from core.times import Clock
from jobs.db import Database
from jobs.errors import Forbidden, Invalid, NotFound
from jobs.models import AlertRule, SavedSearch


@dataclass(frozen=True)
class Caller:
    """Who asks: a username (None: anonymous, who sees shared searches only) and whether they are staff."""

    username: str | None
    is_staff: bool = False


@dataclass(frozen=True)
class Saved:
    id: int
    name: str
    owner: str
    query: str
    shared: bool
    created: datetime
    last_modified: datetime


def _saved(row: SavedSearch) -> Saved:
    return Saved(row.id, row.name, row.owner, row.query, row.shared, row.created, row.last_modified)


def _visible(caller: Caller):
    return or_(SavedSearch.shared.is_(True), SavedSearch.owner == (caller.username or ""))


class SavedSearchStore:
    def __init__(self, db: Database, clock: Clock):
        self._sessions = db.sessions
        self._clock = clock

    def visible(self, caller: Caller) -> list[Saved]:
        with self._sessions() as s:
            rows = s.scalars(select(SavedSearch).where(_visible(caller)).order_by(SavedSearch.name, SavedSearch.id))
            return [_saved(r) for r in rows]

    def get(self, caller: Caller, search_id: int) -> Saved:
        """The search; NotFound when it does not exist or is another's private one (the same answer for both)."""
        with self._sessions() as s:
            row = s.scalars(select(SavedSearch).where(SavedSearch.id == search_id, _visible(caller))).first()
            if row is None:
                raise NotFound(f"saved search {search_id}")
            return _saved(row)

    def create(self, owner: str, name: str, query: str, shared: bool) -> Saved:
        now = self._clock()
        row = SavedSearch(name=name, owner=owner, query=query, shared=shared, created=now, last_modified=now)
        try:
            with self._sessions.begin() as s:
                s.add(row)
                s.flush()
                return _saved(row)
        except IntegrityError:
            raise Invalid(f'You already have a saved search named "{name}" (parameter "name")') from None

    def update(self, caller: Caller, search_id: int, changes: dict) -> Saved:
        """Set name, query and/or shared; Forbidden unless the caller owns the search or is staff."""
        try:
            with self._sessions.begin() as s:
                row = self._changeable(s, caller, search_id)
                for key in ("name", "query", "shared"):
                    if key in changes:
                        setattr(row, key, changes[key])
                row.last_modified = self._clock()
                s.flush()
                return _saved(row)
        except IntegrityError:
            raise Invalid(
                f'The owner already has a saved search named "{changes.get("name")}" (parameter "name")'
            ) from None

    def delete(self, caller: Caller, search_id: int) -> None:
        """Delete the search and its alerts (their history and deliveries go with them: ON DELETE CASCADE)."""
        with self._sessions.begin() as s:
            row = self._changeable(s, caller, search_id)
            s.execute(delete(AlertRule).where(AlertRule.saved_search_id == row.id))
            s.delete(row)

    def _changeable(self, s, caller: Caller, search_id: int) -> SavedSearch:
        row = s.scalars(select(SavedSearch).where(SavedSearch.id == search_id, _visible(caller))).first()
        if row is None:
            raise NotFound(f"saved search {search_id}")
        if not caller.is_staff and row.owner != caller.username:
            raise Forbidden("Only the owner of a saved search or staff may change it.")
        return row
