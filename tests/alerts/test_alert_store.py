"""The alert store's claims and history in SQL (SQLite, and PostgreSQL with DATABASE_URL): one holder per rule
and per notification until its lease runs out, nothing written by a holder that lost its claim, and history
older than HISTORY_DAYS dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.alert_store import FIRE, HISTORY_DAYS, RESOLVE, AlertStore
from jobs.saved_search_store import Caller, SavedSearchStore
from jobs.stores import Stores

ADMIN = Caller("admin", is_staff=True)


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rule(stores: Stores, clock) -> int:
    search = SavedSearchStore(stores.db, clock).create("admin", "s", "q=boom", shared=False)
    fields = dict(
        threshold=1, window_minutes=5, interval_seconds=60, webhook_url="http://x/", email_to="a@b.c", enabled=True
    )
    return AlertStore(stores.db, clock).create("admin", search.id, fields).id


def test_one_holder_per_rule_until_its_lease_runs_out(stores, clock, rule):
    alerts = AlertStore(stores.db, clock)
    assert alerts.due_rules() == [rule]
    claimed = alerts.claim_rule(rule, "p1", lease_seconds=30)
    assert claimed is not None and claimed.search_query == "q=boom"
    assert alerts.claim_rule(rule, "p2", lease_seconds=30) is None
    assert alerts.due_rules() == []
    clock.now += timedelta(seconds=31)  # p1 died holding it
    assert alerts.claim_rule(rule, "p2", lease_seconds=30) is not None
    # p1 comes back: its result is not written, p2's is.
    assert alerts.finish_check(rule, "p1", 5, True, {"x": 1}) is None
    assert alerts.finish_check(rule, "p2", 5, True, {"x": 1}) == FIRE
    assert alerts.get(ADMIN, rule).state == "firing"
    assert alerts.claim_rule(rule, "p1", lease_seconds=30) is None  # not due for another interval


def test_a_notification_per_target_once_per_firing_window(stores, clock, rule):
    alerts = AlertStore(stores.db, clock)
    events = []
    for count in (5, 6, 7, 0, 0, 9):
        assert alerts.claim_rule(rule, "p", 30) is not None
        events.append(alerts.finish_check(rule, "p", count, count > 1, {"count": count}))
        clock.now += timedelta(seconds=60)
    assert events == [FIRE, None, None, RESOLVE, None, FIRE]
    deliveries = alerts.due_deliveries()
    assert len(deliveries) == 6  # three state changes, two targets each
    first = alerts.claim_delivery(deliveries[0], "p", 30)
    assert first is not None and (first.event, first.payload) == (FIRE, {"count": 5, "event": FIRE})
    assert alerts.claim_delivery(deliveries[0], "q", 30) is None
    assert alerts.finish_delivery(first.id, "q", True, None, None) is None  # not its claim
    assert alerts.finish_delivery(first.id, "p", True, None, None) == "delivered"
    assert alerts.claim_delivery(deliveries[0], "q", 30) is None  # delivered: never again


def test_history_older_than_the_kept_days_is_dropped(stores, clock, rule):
    alerts = AlertStore(stores.db, clock)
    alerts.claim_rule(rule, "p", 30)
    alerts.finish_check(rule, "p", 0, False, None)
    assert alerts.history(ADMIN, rule, 0, 10)[0] == 1
    clock.now += timedelta(days=HISTORY_DAYS, seconds=1)
    alerts.claim_rule(rule, "p", 30)
    alerts.finish_check(rule, "p", 0, False, None)
    total, events = alerts.history(ADMIN, rule, 0, 10)
    assert total == 1 and events[0].at == clock.now
    with pytest.raises(LookupError):
        alerts.history(Caller("someone else"), rule, 0, 10)
