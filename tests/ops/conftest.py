"""Fixtures of the operations tests (metrics, request logs, readiness, stop, the scale client)."""

from __future__ import annotations

import pytest

from ingest.shipper import Shipper


@pytest.fixture
def shipper_for_worker(es, settings):
    s = Shipper(es, settings.log_index_prefix, settings.spool_dir, backoff=(0.1, 1.0))
    yield s
    s.close(timeout=5)
