"""Fixtures of the log read and search tests."""
import pytest

from search import LogSearch
from search.reads import FollowTiming


@pytest.fixture
def log_search(es, log_prefix) -> LogSearch:
    """Reads our indices and the legacy ones of this test (the app's settings fixture uses the same)."""
    return LogSearch(es, (f"{log_prefix}-*", f"{log_prefix}-legacy-*"),
                     FollowTiming(poll_seconds=0.2, lookback_seconds=5, end_grace_seconds=1.5))


MANIFEST = {"seedVersion": "1.0.0", "job": {"name": "log-test", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                                            "title": "Log test", "interface": {"command": "run"}}}


@pytest.fixture
def start_execution(store):
    """Start a new job's execution (RUNNING); returns the ClaimedExecution (id, job_id, cluster_id, ...)."""
    def start():
        job_type, _ = store.save_job_type("img:1", MANIFEST)
        job_id = store.create_job(job_type.id, {})
        return store.start_execution(job_id, "node-1")
    return start


@pytest.fixture
def execution(start_execution):
    return start_execution()
