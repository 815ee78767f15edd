"""A daily index of an execution that no node may hold (every copy of its shard gone): every read and search of
that execution is a 503 that says lines would be missing, never a 200 with the other days' lines only.

On one node a shard loses its copies like this: the day's index is cloned under its own name with
`index.routing.allocation.require._name` set to a node that does not exist, and the original is deleted. The
clone's primary never starts (a new index: Elasticsearch does not force a primary it has no copy of), so the
index exists, is red, and its lines are out of reach, as when the only node holding them dies. (Closing an
index, requiring another node and reopening it does not do: the existing primary is force-allocated back.)
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from elasticsearch import Elasticsearch

from search.errors import SHARDS_MISSING
from tests.search.helpers import BASE_NS, NS, day, index_ours, our_doc

DAY_NS = 86_400 * NS


def make_unallocatable(es: Elasticsearch, index: str) -> None:
    """Replace index by a copy of it that no node may hold; wait until Elasticsearch has said so."""
    es.indices.put_settings(index=index, settings={"index.blocks.write": True})
    es.indices.clone(index=index, target=f"{index}-moving", wait_for_active_shards="1")
    es.indices.delete(index=index)
    es.indices.clone(
        index=f"{index}-moving",
        target=index,
        settings={"index.routing.allocation.require._name": "no-such-node", "index.blocks.write": None},
        wait_for_active_shards="0",
    )
    es.indices.delete(index=f"{index}-moving")
    explained = es.cluster.allocation_explain(index=index, shard=0, primary=True)
    assert explained["current_state"] == "unassigned" and explained["can_allocate"] == "no", explained
    assert es.cluster.health(index=index)["status"] == "red"


# Each of the 13 reads retries for about 4 s (guarded_read) before its 503; run at once, they take about that.
@pytest.mark.slow
def test_every_read_of_an_execution_with_an_unallocatable_index_is_503(es, log_prefix, make_client, execution):
    # Six of the thirteen reads below are follows and whole-log streams from one client address, made at once: the
    # caps on those (4 a client by default) make room for them all.
    client = make_client(long_reads_per_client=13, long_reads_per_worker=13)
    # Three lines on each of two days: two daily indices.
    docs = [
        our_doc(execution.cluster_id, BASE_NS + d * DAY_NS + i, d * 3 + i + 1, f"line {d * 3 + i + 1}")
        for d in (0, 1)
        for i in range(3)
    ]
    index_ours(es, log_prefix, docs)
    base = f"/v6/job-executions/{execution.id}/logs/combined/"
    whole = client.simulate_get(base, params={"format": "txt"})
    assert whole.status_code == 200 and whole.text.splitlines() == [f"line {n}" for n in range(1, 7)]

    make_unallocatable(es, f"{log_prefix}-{day(BASE_NS + DAY_NS)}")
    reads = {
        "page": (base, {"limit": "10"}),
        "tail": (base, {"tail": "10"}),
        "whole json": (base, {}),
        "whole txt": (base, {"format": "txt"}),
        "whole ndjson": (base, {"format": "ndjson"}),
        "stdout stream": (f"/v6/job-executions/{execution.id}/logs/stdout/", {"format": "array"}),
        "follow catch-up": (base, {"follow": "true", "format": "ndjson"}),
        "follow sse with tail": (base, {"follow": "true", "tail": "2"}),
        "search": ("/v6/logs/", {"job_exe_id": str(execution.id)}),
        "search text": ("/v6/logs/", {"q": "line"}),
        "facets": ("/v6/logs/facets/", {"q": "line"}),
        "search by job status": ("/v6/logs/", {"q": "line", "status": "RUNNING"}),
        "job logs": (f"/v6/jobs/{execution.job_id}/logs/", {}),
    }

    def answer(name: str) -> tuple[int, object]:
        path, params = reads[name]
        sse = name.startswith("follow sse")
        r = client.simulate_get(path, params=params, headers={"Accept": "text/event-stream"} if sse else {})
        detail = r.json.get("detail") if r.headers.get("content-type") == "application/json" and r.text else None
        # Anything else is summed up by the lines it holds (a 200 with lines 1-3 only is the defect).
        return r.status_code, detail if r.status_code == 503 else sorted(set(re.findall(r"line \d", r.text)))

    # The reads at once, each in a thread (as a server's threads serve them): each retries for about 4 s before
    # its 503, so one after another they took 13 times that.
    with ThreadPoolExecutor(len(reads)) as pool:
        answers = dict(zip(reads, pool.map(answer, reads)))
    assert answers == dict.fromkeys(reads, (503, SHARDS_MISSING))
