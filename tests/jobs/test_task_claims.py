"""The lease expiry every API process runs (api/jobs/lease_expiry.py) acts in one process per period: the claim
in task_claims (jobs/task_claim_store.py) is won by one caller until it runs out."""

from __future__ import annotations

from api.jobs.lease_expiry import TASK, LeaseExpiry
from jobs.stores import Stores
from tests.factories import manifest


def test_one_process_a_period_fails_the_expired_leases(sql_settings, clock):
    first, second = (Stores.open(sql_settings.database_url, clock) for _ in range(2))  # two API processes
    try:
        job_type, _ = first.job_types.save_job_type("img:1", manifest("leased", command="run"))
        job_id = first.jobs.create_job(job_type.id, {})
        assert first.executions.claim_next_queued("node-gone", 30) is not None
        a = LeaseExpiry(first.executions, first.task_claims, lease_seconds=30)
        b = LeaseExpiry(second.executions, second.task_claims, lease_seconds=30)
        a.holder, b.holder = "api-1", "api-2"
        assert (a.run_once(), b.run_once()) == (0, 0)  # a claimed this period (nothing expired yet); b skipped
        assert first.task_claims.holder(TASK) == "api-1"
        clock.advance(seconds=31)  # the lease ran out, and a's claim of 9 s long ago
        assert b.run_once() == 1 and first.task_claims.holder(TASK) == "api-2"
        assert a.run_once() == 0  # b holds this period: a does nothing
        assert first.jobs.get_job(job_id).job["status"] == "QUEUED"  # node-lost is retried
    finally:
        first.close()
        second.close()
