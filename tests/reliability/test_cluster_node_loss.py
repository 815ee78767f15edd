"""A three-node cluster (ES_NODES=3) with LOG_INDEX_REPLICAS=1 loses the data node that holds the primary of
the day's log index while gunicorn takes NDJSON posts and clients read logs, then gets it back:

- no line lost or doubled: every accepted line is read back exactly once, numbered 1..N;
- every shard keeps a copy: cluster health, sampled every 0.25 s by an independent client, is never red (the
  replica of the lost primary is promoted in the same cluster-state update that removes the node);
- so reads keep answering: 200 throughout, not a single 503 (with one replica there is no excuse for one);
- posts are accepted throughout (202), never re-sent;
- the node comes back on its port and the cluster is green again (every shard of the index with its replica).
The figures (lines, seconds down, read statuses, time to green) go to the reliability figures.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.es_node import LaunchedNode
from tests.reliability.checks import assert_lines_exactly_once, count_lines, read_lines
from tests.reliability.harness import Gunicorn, assert_clean_error, wait_until
from tests.reliability.seed import seed_jobs
from tests.reliability.traffic import LogTraffic
from tests.search.helpers import lines_of

pytestmark = [pytest.mark.slow, pytest.mark.es, pytest.mark.cluster]

ES_TIMEOUT = 5  # seconds the API waits for Elasticsearch per request
HEALTH_EVERY = 0.25


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    nodes = LaunchedNode(tmp_path_factory.mktemp("cluster"), nodes=3)
    nodes.start()
    yield nodes
    nodes.stop()


def test_a_data_node_lost_and_back_loses_no_line_and_reads_keep_answering(
    cluster, sql_settings, stores, tmp_path, sized, figures
):
    assert cluster.connection is not None and len(cluster.url.split(",")) == 3
    admin = cluster.connection.admin(request_timeout=60)
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    seeded = seed_jobs(stores, types=1, jobs=3, running=3, finished=0)
    server = Gunicorn(
        tmp_path / "api",
        sql_settings.database_url,
        cluster.url,
        prefix,
        ADMIN_TOKEN,
        workers=2,
        extra_env={"LOG_INDEX_REPLICAS": "1", "ELASTICSEARCH_TIMEOUT": str(ES_TIMEOUT)},
    ).start()

    health: list[tuple[float, str]] = []
    exe = seeded.running[0]
    traffic = LogTraffic(server, seeded.running)

    def content_problem(path: str, answer) -> str | None:
        if "tail=20" in path:
            tail = lines_of(answer.json)  # Scale's body: the lines are the hits' _source
            return None if len(tail) == 20 else f"{len(tail)} lines of tail=20"
        if "limit=50" in path:
            numbers = [line["scale_order_num"] for line in lines_of(answer.json)]
            return None if numbers == list(range(1, 51)) else f"first page numbered {numbers[:5]}..."
        return None if answer.json["count"] > 0 else "no match"

    def reader(paths: list[str]) -> None:
        http = server.client(timeout=60)
        n = 0
        while not traffic.stop.is_set():
            n += 1
            path = paths[n % len(paths)]
            try:
                answer = http.get(path)
                traffic.record("logs", path, answer)
                if answer.status == 200:
                    problem = content_problem(path, answer)
                    if problem:
                        traffic.failures.append(f"{path}: {problem}")
                else:
                    assert_clean_error(answer.body, answer.status)
            except Exception as exc:
                traffic.failures.append(f"logs {path} {exc!r}")
            time.sleep(0.05)
        traffic.resends.append(http.resends)

    def watch_health() -> None:
        """Cluster health from outside the service: red = some shard has no active copy."""
        watcher = cluster.connection.admin(request_timeout=5, max_retries=2, retry_on_timeout=True)
        while not traffic.stop.is_set():
            try:
                status = watcher.cluster.health()["status"]
            except Exception as exc:  # the node asked is the one going away: the next sample asks another
                status = f"unknown ({type(exc).__name__})"
            with traffic.lock:
                health.append((time.monotonic(), status))
            traffic.stop.wait(HEALTH_EVERY)
        watcher.close()

    log_paths = [
        f"/v6/job-executions/{exe.id}/logs/combined/?limit=50",
        f"/v6/job-executions/{exe.id}/logs/stdout/?tail=20",
        "/v6/logs/?q=l7&page_size=10",
    ]
    threads = [threading.Thread(target=traffic.shipper, args=(e,), daemon=True) for e in seeded.running]
    threads += [threading.Thread(target=reader, args=(log_paths,), daemon=True) for _ in range(2)]
    threads.append(threading.Thread(target=watch_health, daemon=True))
    down_seconds = sized(20, 90)
    try:
        first = server.client(token=ADMIN_TOKEN)
        for e in seeded.running:  # lines before the readers start: a log read can only answer 200 (or 503)
            traffic.post(first, e)
        first.close()
        assert not traffic.failures, traffic.failures
        wait_until(lambda: count_lines(admin, f"{prefix}-*", exe.cluster_id) == 50, 60, 0.2, "the first lines")
        green = admin.cluster.health(index=f"{prefix}-*", wait_for_status="green", timeout="120s")
        assert green["status"] == "green", green
        for t in threads:
            t.start()
        wait_until(lambda: min(traffic.seen("ingest", 202), traffic.seen("logs", 200)) >= 10, 60, 0.2, "steady traffic")

        # The node that holds the primary of the day's index: its replica must take over.
        shards = admin.cat.shards(index=f"{prefix}-*", format="json")
        primary_node = next(s["node"] for s in shards if s["prirep"] == "p")
        victim = int(primary_node.rsplit("-", 1)[1])
        down_begin = time.monotonic()
        cluster.stop_node(victim)
        down_end = time.monotonic()
        time.sleep(down_seconds)
        assert traffic.seen("logs", 200, down_end) >= 10 and traffic.seen("ingest", 202, down_end) >= 10, (
            "no traffic while down"
        )
        up_begin = time.monotonic()
        back = cluster.start_node(victim)
        up_end = time.monotonic()
        assert back == cluster.url.split(",")[victim - 1], "the node came back on another port"
        again = admin.cluster.health(wait_for_status="green", wait_for_no_initializing_shards=True, timeout="300s")
        green_at = time.monotonic()
        assert again["status"] == "green" and again["number_of_nodes"] == 3, again
        wait_until(lambda: traffic.seen("logs", 200, green_at) >= 10, 60, 0.2, "reads after recovery")
    finally:
        traffic.stop.set()
        for t in threads:
            t.join(timeout=90)
        server.stop()
    try:
        assert not any(t.is_alive() for t in threads), "a client hung"
        assert not traffic.failures, traffic.failures[:5]
        assert sum(traffic.resends) == 0, f"{sum(traffic.resends)} requests re-sent"
        assert all(s == 202 for _, kind, s in traffic.log if kind == "ingest"), "a post was not accepted"
        reads = [(t, s) for t, kind, s in traffic.log if kind == "logs"]
        # One replica: no moment without a copy of every shard, and so no read refused.
        red = [round(t - down_begin, 2) for t, status in health if status == "red"]
        assert not red, f"cluster health red (a shard without any copy) at {red} s after the stop"
        assert all(s == 200 for _, s in reads), Counter(s for _, s in reads)

        # Every accepted line exactly once, numbered 1..N, each post's lines consecutive.
        expected = {e.cluster_id: traffic.accepted[e.id] for e in seeded.running}
        found_total = 0
        for cid, batches in expected.items():
            docs = read_lines(admin, f"{prefix}-*", cid)
            found_total += len(docs)
            assert_lines_exactly_once(docs, batches, cid)

        # Back to two copies of every shard, on two nodes; the template's replica count applied.
        copies = admin.cat.shards(index=f"{prefix}-*", format="json")
        assert copies and all(s["state"] == "STARTED" for s in copies), copies
        nodes_of: dict[tuple[str, str], list[str]] = {}
        for copy in copies:
            nodes_of.setdefault((copy["index"], copy["shard"]), []).append(copy["node"])
        assert all(len(set(nodes)) == 2 == len(nodes) for nodes in nodes_of.values()), nodes_of
        settings = admin.indices.get_settings(index=f"{prefix}-*", name="index.number_of_replicas")
        assert {v["settings"]["index"]["number_of_replicas"] for v in settings.values()} == {"1"}

        while_down = Counter(s for t, s in reads if down_end <= t <= up_begin)
        statuses = Counter(status for t, status in health if down_begin <= t <= green_at)
        figures.setdefault("faults", {})["cluster_node_loss"] = {
            "nodes": 3,
            "replicas": 1,
            "node_stopped": primary_node,
            "seconds_down": round(up_end - down_begin, 1),
            "stop_seconds": round(down_end - down_begin, 1),
            "restart_seconds": round(up_end - up_begin, 1),
            "seconds_to_green_after_restart": round(green_at - up_end, 1),
            "lines_accepted": sum(len(b) for batches in expected.values() for b in batches),
            "lines_found": found_total,
            "lines_accepted_while_down": 50
            * sum(1 for t, k, s in traffic.log if k == "ingest" and down_begin < t < up_end),
            "log_read_statuses_while_down": dict(while_down),
            "log_read_statuses_total": dict(Counter(s for _, s in reads)),
            "health_samples_from_stop_to_green": dict(statuses),
            "resends": sum(traffic.resends),
        }
    finally:
        admin.indices.delete(index=",".join(admin.indices.get(index=f"{prefix}-*")))
        admin.close()
