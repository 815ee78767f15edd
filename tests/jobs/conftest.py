"""Fixtures of the job tests: a frozen clock, a JobStore on the test database, and contract-checked clients."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jobs.db import make_engine
from jobs.store import JobStore
from tests.jobs.contract import ContractClient

T0 = datetime(2020, 1, 1, tzinfo=timezone.utc)


class FrozenClock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def make_client(make_client):
    """The shared factory, with every response validated against the served OpenAPI document."""
    def build(**kwargs) -> ContractClient:
        return ContractClient(make_client(**kwargs).app)
    return build


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def api(make_client, clock) -> ContractClient:
    """A client whose app reads the frozen clock."""
    return make_client(clock=clock)


@pytest.fixture
def store(settings, clock):
    """A JobStore on the test's database, for data no route creates (files, recipes, batches)."""
    engine = make_engine(settings.database_url)
    yield JobStore(engine, clock)
    engine.dispose()
