"""Fixtures of the ingest tests: a shipper on the test's spool, and queueing a job of a manifest."""

from __future__ import annotations

import pytest

from ingest.shipper import Shipper


@pytest.fixture
def shipper(service_es, settings):
    s = Shipper(service_es, settings.log_index_prefix, settings.spool_dir, backoff=(0.1, 1.0))
    yield s
    s.close(timeout=5)


def queue_job(stores, m: dict, input: dict | None = None, configuration: dict | None = None) -> int:
    job_type, _ = stores.job_types.save_job_type("local:1", m, configuration)
    return stores.jobs.create_job(job_type.id, input or {"files": {}, "json": {}})
