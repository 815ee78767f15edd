"""Alert rules on saved searches, their notifications and their history, in SQL.

Claims: a process checks a rule (or attempts a delivery) only after an UPDATE that sets claimed_by and
claim_until on the row where no live claim is and the row is due. The database lets one such UPDATE win per row
(PostgreSQL re-checks the WHERE clause after the row lock; SQLite writes one at a time), as the daily prune's
INSERT is won once (jobs/daily_task_store.py). The claim is a lease: a process that died holding it is replaced
once claim_until has passed. The result is written only by the holder (WHERE claimed_by = holder), so a process
whose lease ran out while it worked writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from core.times import Clock
from jobs.db import Database, rowcount
from jobs.errors import NotFound
from jobs.models import AlertDelivery, AlertEvent, AlertRule, SavedSearch
from jobs.saved_search_store import Caller

OK, FIRING = "ok", "firing"
FIRE, RESOLVE = "firing", "resolved"  # the event a notification tells
WEBHOOK, EMAIL = "webhook", "email"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
# A rule checked every minute writes 1,440 history lines a day: each check drops its rule's lines older than this.
HISTORY_DAYS = 30
RULE_FIELDS = ("threshold", "window_minutes", "interval_seconds", "webhook_url", "email_to", "enabled")


@dataclass(frozen=True)
class Rule:
    id: int
    saved_search_id: int
    owner: str
    threshold: int
    window_minutes: int
    interval_seconds: int
    webhook_url: str | None
    email_to: str | None
    enabled: bool
    state: str
    last_count: int | None
    last_checked: datetime | None
    next_check: datetime
    created: datetime
    last_modified: datetime


@dataclass(frozen=True)
class RuleToCheck:
    """A claimed rule with its saved search."""

    rule: Rule
    search_name: str
    search_query: str


@dataclass(frozen=True)
class Delivery:
    """A claimed notification, with where it goes now (the rule's current target)."""

    id: int
    rule_id: int
    event: str
    target: str
    payload: dict[str, Any]
    attempts: int
    address: str | None


@dataclass(frozen=True)
class Event:
    id: int
    at: datetime
    kind: str
    state: str | None
    count: int | None
    event: str | None
    target: str | None
    attempt: int | None
    detail: str | None
    holder: str


def _rule(r: AlertRule) -> Rule:
    return Rule(
        r.id,
        r.saved_search_id,
        r.owner,
        r.threshold,
        r.window_minutes,
        r.interval_seconds,
        r.webhook_url,
        r.email_to,
        r.enabled,
        r.state,
        r.last_count,
        r.last_checked,
        r.next_check,
        r.created,
        r.last_modified,
    )


def _free(model, now: datetime):
    return or_(model.claim_until.is_(None), model.claim_until <= now)


class AlertStore:
    def __init__(self, db: Database, clock: Clock):
        self._sessions = db.sessions
        self._clock = clock

    # --- The API's side: rules of a caller --------------------------------------------------------------------

    def create(self, owner: str, saved_search_id: int, fields: dict[str, Any]) -> Rule:
        now = self._clock()
        with self._sessions.begin() as s:
            row = AlertRule(
                saved_search_id=saved_search_id,
                owner=owner,
                state=OK,
                last_count=None,
                last_checked=None,
                next_check=now,
                created=now,
                last_modified=now,
                **{k: fields[k] for k in RULE_FIELDS},
            )
            s.add(row)
            s.flush()
            return _rule(row)

    def visible(self, caller: Caller) -> list[Rule]:
        query = select(AlertRule).order_by(AlertRule.id)
        if not caller.is_staff:
            query = query.where(AlertRule.owner == (caller.username or ""))
        with self._sessions() as s:
            return [_rule(r) for r in s.scalars(query)]

    def get(self, caller: Caller, rule_id: int) -> Rule:
        with self._sessions() as s:
            return _rule(self._own(s, caller, rule_id))

    def update(self, caller: Caller, rule_id: int, changes: dict[str, Any]) -> Rule:
        with self._sessions.begin() as s:
            row = self._own(s, caller, rule_id)
            for key in RULE_FIELDS:
                if key in changes:
                    setattr(row, key, changes[key])
            if "interval_seconds" in changes or changes.get("enabled"):
                row.next_check = self._clock()  # check with the new settings now
            row.last_modified = self._clock()
            s.flush()
            return _rule(row)

    def delete(self, caller: Caller, rule_id: int) -> None:
        with self._sessions.begin() as s:
            s.delete(self._own(s, caller, rule_id))

    def history(self, caller: Caller, rule_id: int, offset: int, limit: int) -> tuple[int, list[Event]]:
        """(how many events, a page of them newest first)."""
        with self._sessions() as s:
            self._own(s, caller, rule_id)
            total = s.scalar(select(func.count()).select_from(AlertEvent).where(AlertEvent.rule_id == rule_id))
            rows = s.scalars(
                select(AlertEvent)
                .where(AlertEvent.rule_id == rule_id)
                .order_by(AlertEvent.id.desc())
                .offset(offset)
                .limit(limit)
            )
            events = [
                Event(e.id, e.at, e.kind, e.state, e.count, e.event, e.target, e.attempt, e.detail, e.holder)
                for e in rows
            ]
        return int(total or 0), events

    def _own(self, s, caller: Caller, rule_id: int) -> AlertRule:
        """A rule is seen by its owner and staff only: it names where notifications go."""
        row = s.get(AlertRule, rule_id)
        if row is None or (not caller.is_staff and row.owner != caller.username):
            raise NotFound(f"alert {rule_id}")
        return row

    # --- The checker's side: claims -------------------------------------------------------------------------

    def due_rules(self, limit: int = 50) -> list[int]:
        now = self._clock()
        with self._sessions() as s:
            query = (
                select(AlertRule.id)
                .where(AlertRule.enabled.is_(True), AlertRule.next_check <= now, _free(AlertRule, now))
                .order_by(AlertRule.next_check)
                .limit(limit)
            )
            return list(s.scalars(query))

    def claim_rule(self, rule_id: int, holder: str, lease_seconds: float) -> RuleToCheck | None:
        """The rule and its search for the one caller whose UPDATE claims it; None for every other."""
        now = self._clock()
        with self._sessions.begin() as s:
            won = s.execute(
                update(AlertRule)
                .where(
                    AlertRule.id == rule_id,
                    AlertRule.enabled.is_(True),
                    AlertRule.next_check <= now,
                    _free(AlertRule, now),
                )
                .values(claimed_by=holder[:255], claim_until=now + timedelta(seconds=lease_seconds))
                .execution_options(synchronize_session=False)
            )
            if rowcount(won) != 1:
                return None
            row = s.get(AlertRule, rule_id)
            search = s.get(SavedSearch, row.saved_search_id) if row is not None else None
            if row is None or search is None:
                return None
            return RuleToCheck(_rule(row), search.name, search.query)

    def finish_check(
        self, rule_id: int, holder: str, count: int, firing: bool, payload: dict[str, Any] | None
    ) -> str | None:
        """Record an evaluation: the new state, the next check, one history line, and when the state changed a
        notification to each target (`payload`, the event it tells). Returns the event (FIRE, RESOLVE) or None;
        nothing is written when the claim was lost."""
        now = self._clock()
        with self._sessions.begin() as s:
            row = s.get(AlertRule, rule_id, with_for_update=True)
            if row is None or row.claimed_by != holder:
                return None
            new_state = FIRING if firing else OK
            event = None if new_state == row.state else (FIRE if firing else RESOLVE)
            row.state, row.last_count, row.last_checked = new_state, count, now
            row.next_check = now + timedelta(seconds=row.interval_seconds)
            row.claimed_by = row.claim_until = None
            s.execute(
                delete(AlertEvent).where(
                    AlertEvent.rule_id == rule_id, AlertEvent.at < now - timedelta(days=HISTORY_DAYS)
                )
            )
            s.add(
                AlertEvent(
                    rule_id=rule_id,
                    at=now,
                    kind="evaluated",
                    state=new_state,
                    count=count,
                    event=event,
                    holder=holder[:255],
                )
            )
            if event is not None and payload is not None:
                body = {**payload, "event": event}
                for target, address in ((WEBHOOK, row.webhook_url), (EMAIL, row.email_to)):
                    if address:
                        s.add(
                            AlertDelivery(
                                rule_id=rule_id,
                                event=event,
                                target=target,
                                payload=body,
                                status=PENDING,
                                attempts=0,
                                next_attempt=now,
                                created=now,
                            )
                        )
            return event

    def fail_check(self, rule_id: int, holder: str, detail: str) -> None:
        """The evaluation could not run (Elasticsearch down, a search refused): recorded, tried next interval."""
        now = self._clock()
        with self._sessions.begin() as s:
            row = s.get(AlertRule, rule_id, with_for_update=True)
            if row is None or row.claimed_by != holder:
                return
            row.next_check = now + timedelta(seconds=row.interval_seconds)
            row.claimed_by = row.claim_until = None
            s.add(
                AlertEvent(
                    rule_id=rule_id,
                    at=now,
                    kind="evaluation_failed",
                    state=row.state,
                    detail=detail[:500],
                    holder=holder[:255],
                )
            )

    def firing_count(self) -> int:
        with self._sessions() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(AlertRule)
                    .where(AlertRule.state == FIRING, AlertRule.enabled.is_(True))
                )
                or 0
            )

    def due_deliveries(self, limit: int = 50) -> list[int]:
        now = self._clock()
        with self._sessions() as s:
            query = (
                select(AlertDelivery.id)
                .where(AlertDelivery.status == PENDING, AlertDelivery.next_attempt <= now, _free(AlertDelivery, now))
                .order_by(AlertDelivery.next_attempt)
                .limit(limit)
            )
            return list(s.scalars(query))

    def claim_delivery(self, delivery_id: int, holder: str, lease_seconds: float) -> Delivery | None:
        now = self._clock()
        with self._sessions.begin() as s:
            won = s.execute(
                update(AlertDelivery)
                .where(
                    AlertDelivery.id == delivery_id,
                    AlertDelivery.status == PENDING,
                    AlertDelivery.next_attempt <= now,
                    _free(AlertDelivery, now),
                )
                .values(claimed_by=holder[:255], claim_until=now + timedelta(seconds=lease_seconds))
                .execution_options(synchronize_session=False)
            )
            if rowcount(won) != 1:
                return None
            row = s.get(AlertDelivery, delivery_id)
            rule = s.get(AlertRule, row.rule_id) if row is not None else None
            if row is None or rule is None:
                return None
            address = rule.webhook_url if row.target == WEBHOOK else rule.email_to
            return Delivery(row.id, row.rule_id, row.event, row.target, dict(row.payload), row.attempts, address)

    def finish_delivery(
        self, delivery_id: int, holder: str, delivered: bool, detail: str | None, retry_at: datetime | None
    ) -> str | None:
        """Record an attempt: delivered, retried at `retry_at`, or (neither) given up. Returns the new status;
        None when the claim was lost."""
        now = self._clock()
        with self._sessions.begin() as s:
            row = s.get(AlertDelivery, delivery_id, with_for_update=True)
            if row is None or row.claimed_by != holder:
                return None
            row.attempts += 1
            row.claimed_by = row.claim_until = None
            if delivered:
                row.status, kind = DELIVERED, "delivered"
            elif retry_at is not None:
                row.status, row.next_attempt, kind = PENDING, retry_at, "delivery_failed"
            else:
                row.status, kind = FAILED, "delivery_gave_up"
            s.add(
                AlertEvent(
                    rule_id=row.rule_id,
                    at=now,
                    kind=kind,
                    event=row.event,
                    target=row.target,
                    attempt=row.attempts,
                    detail=(detail or "")[:500] or None,
                    holder=holder[:255],
                )
            )
            return row.status
