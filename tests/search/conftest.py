"""Fixtures of the log read and search tests."""

import pytest

from search import LogSearch
from search.reads import FollowTiming


@pytest.fixture
def log_search(service_es, log_prefix) -> LogSearch:
    """Reads our indices and the legacy ones of this test (the app's settings fixture uses the same), with the
    service's credentials."""
    return LogSearch(
        service_es,
        (f"{log_prefix}-*", f"{log_prefix}-legacy-*"),
        FollowTiming(poll_seconds=0.2, lookback_seconds=5, end_grace_seconds=1.5),
    )
