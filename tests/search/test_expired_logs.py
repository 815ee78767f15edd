"""An execution older than the retention window whose lines were pruned: 410 Gone with a detail that says the
log expired, for every kind of read, instead of a 204 that Scale's UI shows as "Waiting for log output"
forever. An execution with lines left, a recent one without lines, or no retention at all: as before."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.times import ns_of, utcnow
from tests.factories import manifest
from tests.search.helpers import index_ours, our_doc

READS = [
    {},
    {"format": "txt"},
    {"format": "json", "limit": "10"},
    {"tail": "5"},
    {"follow": "true"},
]


@pytest.fixture
def old_execution(stores):
    """An execution that started and ended 40 days ago."""
    job_type, _ = stores.job_types.save_job_type("img:1", manifest("expiring", command="run"))
    started = utcnow() - timedelta(days=40)
    exe = stores.executions.start_execution(stores.jobs.create_job(job_type.id, {}), "node-1", started=started)
    stores.executions.finish_execution(exe.id, "COMPLETED", ended=started + timedelta(minutes=5))
    return exe


@pytest.mark.parametrize("query", READS, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "whole")
def test_a_pruned_log_is_410_gone_with_a_detail(make_client, old_execution, query):
    client = make_client(log_retention_days=30)
    resp = client.simulate_get(f"/v6/job-executions/{old_execution.id}/logs/combined/", params=query)
    assert resp.status_code == 410
    started = (utcnow() - timedelta(days=40)).date().isoformat()
    assert resp.json["detail"] == (
        "The log of this execution has expired: log lines are kept 30 days (LOG_RETENTION_DAYS) and it "
        f"started on {started}."
    )
    assert set(resp.json) == {"detail", "request_id"}


def test_without_retention_or_with_lines_left_it_is_as_before(es, log_prefix, make_client, old_execution, execution):
    path = f"/v6/job-executions/{old_execution.id}/logs/combined/"
    assert make_client().simulate_get(path).status_code == 204  # kept forever: no lines yet, maybe later
    # A recent execution without lines under retention: 204 (its lines may still come).
    keeping = make_client(log_retention_days=30)
    assert keeping.simulate_get(f"/v6/job-executions/{execution.id}/logs/stdout/").status_code == 204
    # Lines of the old execution left (written later, or a window not pruned yet): served, and an empty stream
    # of it is 204, not 410: the log did not expire as a whole.
    index_ours(es, log_prefix, [our_doc(old_execution.cluster_id, ns_of(utcnow()), 1, "still here")])
    assert keeping.simulate_get(path, params={"format": "txt"}).text == "still here"
    assert keeping.simulate_get(f"/v6/job-executions/{old_execution.id}/logs/stderr/").status_code == 204


def test_openapi_documents_the_410(client):
    operation = client.simulate_get("/v6/openapi.json").json["paths"]["/v6/job-executions/{exe_id}/logs/{stream}/"][
        "get"
    ]
    assert "410" in operation["responses"]
