"""Fixtures of the log read and search tests."""

from pathlib import Path

import pytest

from search import LogSearch
from search.reads import FollowTiming
from tests.live_api import serving
from tests.search.browsers import chromium


@pytest.fixture
def log_search(service_es, log_prefix) -> LogSearch:
    """Reads our indices and the legacy ones of this test (the app's settings fixture uses the same), with the
    service's credentials."""
    return LogSearch(
        service_es,
        (f"{log_prefix}-*", f"{log_prefix}-legacy-*"),
        FollowTiming(poll_seconds=0.2, lookback_seconds=5, end_grace_seconds=1.5),
    )


@pytest.fixture
def downloads(tmp_path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(tmp_path, downloads):
    """Headless Chromium in a 1280x800 window, saving downloads into `downloads`."""
    with chromium(tmp_path / "chromium", downloads) as driver:
        yield driver


@pytest.fixture
def served(make_client):
    """The app on 127.0.0.1 in a server thread, for the browser tests; follows end within 20 s so it can stop."""
    with serving(make_client(follow_max_seconds=20.0).app) as url:
        yield url


@pytest.fixture
def served_read_token(make_client):
    """The same in READ_TOKEN mode: every read (the pages' included) needs a token or a session."""
    with serving(make_client(follow_max_seconds=20.0, read_token="a-read-token").app) as url:
        yield url
