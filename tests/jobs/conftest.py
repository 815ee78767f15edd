"""Fixtures of the job tests: a frozen clock, and contract-checked clients of an app without log services, so
these tests need no Elasticsearch."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from api.app import create_app
from api.services import Services
from jobs.stores import Stores
from tests.jobs.contract import ContractClient

T0 = datetime(2020, 1, 1, tzinfo=UTC)


class FrozenClock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def make_client(sql_settings, clock):
    """The job routes' app on the test's database, every response validated against the served OpenAPI
    document; each call builds its own app and stores (like another server process)."""
    opened: list[Stores] = []

    def build(clock=clock, **changes) -> ContractClient:
        changed = replace(sql_settings, **changes)
        opened.append(Stores.open(changed.database_url, clock))
        return ContractClient(create_app(Services(opened[-1]), changed, clock))

    yield build
    for stores in opened:
        stores.close()


@pytest.fixture
def api(make_client) -> ContractClient:
    """A client whose app reads the frozen clock."""
    return make_client()
