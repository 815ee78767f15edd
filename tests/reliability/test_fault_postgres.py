"""PostgreSQL restarted under load (a cluster of this run's own, in a new directory on a free port, never the
suite's): requests fail cleanly (503, never 500, never unanswered) while it is down, no request is re-sent, the
same gunicorn workers' pools recover once it is back, and the data is consistent afterwards: the job counters
equal count(*), and jobs and executions are in consistent states after the cancels and requeues the outage cut
off."""

from __future__ import annotations

import random
import threading
import time

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.reliability.checks import assert_counts_match_count_star, assert_jobs_and_executions_consistent
from tests.reliability.harness import Gunicorn, PostgresCluster, assert_clean_error, wait_until
from tests.reliability.seed import seed_jobs

# A PostgreSQL cluster of its own, stopped and started by the tests, whatever DATABASE_URL says.
pytestmark = pytest.mark.postgres

GRACE = 5  # seconds after PostgreSQL is back before every request must succeed (the pools reconnect)


@pytest.fixture(scope="module")
def cluster():
    pg = PostgresCluster()
    base = pg.start()
    yield pg, base
    pg.remove()


@pytest.fixture
def pg_server(cluster, tmp_path, elasticsearch_url, log_prefix):
    from core.times import utcnow
    from jobs.db import upgrade
    from jobs.stores import Stores

    pg, base = cluster
    url, _schema = pg.fresh_schema_url(base)
    stores = Stores.open(url, utcnow)
    upgrade(stores.db.engine)
    seeded = seed_jobs(stores, types=2, jobs=40, running=5, finished=5)
    stores.close()
    server = Gunicorn(tmp_path / "api", url, elasticsearch_url, log_prefix, ADMIN_TOKEN, workers=2).start()
    seeded.database_url = url
    yield pg, server, seeded
    server.stop()
    pg.start()  # whatever happened, leave it running for the next test of the module


@pytest.mark.slow
def test_postgres_restart_under_load_fails_cleanly_and_the_pool_recovers(pg_server, sized, figures):
    from jobs.db import make_engine

    pg, server, seeded = pg_server
    pids = (server.master, sorted(server.worker_pids()))
    log: list[tuple[float, str, int | None, bytes]] = []
    resends: list[int] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client_loop(seed: int) -> None:
        rnd = random.Random(seed)
        http = server.client(timeout=30, token=ADMIN_TOKEN)
        while not stop.is_set():
            kind = rnd.choice(["list", "details", "cancel", "requeue"])
            job = rnd.choice(seeded.job_ids)
            try:
                if kind == "list":
                    a = http.get("/v6/jobs/?page_size=20&status=QUEUED&status=CANCELED&order=-id")
                elif kind == "details":
                    a = http.get(f"/v6/jobs/{job}/")
                elif kind == "cancel":
                    a = http.post("/v6/jobs/cancel/", {"job_ids": [job]})
                else:
                    a = http.post("/v6/jobs/requeue/", {"job_ids": [job]})
                entry = (time.monotonic(), kind, a.status, a.body)
            except Exception as exc:  # a hang (timeout) or a dropped connection: not a clean failure
                entry = (time.monotonic(), kind, None, repr(exc).encode())
            with lock:
                log.append(entry)
            time.sleep(0.01)
        http.close()
        resends.append(http.resends)

    def answered(ok: bool, after: float) -> int:
        with lock:
            return sum(1 for e in log if e[0] > after and (e[2] in (200, 202)) == ok and e[2] is not None)

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(sized(8, 16))]
    for t in threads:
        t.start()
    restarts = sized(1, 3)
    windows = []
    try:
        wait_until(lambda: answered(True, 0) >= 50, 60, 0.1, "steady traffic before the fault")
        for _ in range(restarts):
            down_begin = time.monotonic()
            pg.stop()
            down_end = time.monotonic()
            # The outage lasts a while (about time), and requests are seen failing in it.
            time.sleep(sized(3, 8))
            wait_until(lambda: answered(False, down_end + 0.5) >= 10, 60, 0.1, "requests failing")
            ready = server.client().get("/readyz")
            assert ready.status == 503 and "unavailable" in ready.json["database"], ready.body
            assert_clean_error_like_readyz(ready.json, pg.port)
            up_begin = time.monotonic()
            pg.start()
            up_end = time.monotonic()
            windows.append((down_begin, down_end, up_begin, up_end))
            # Recovery seen: requests succeed again, past the reconnect grace.
            wait_until(lambda: answered(True, up_end + GRACE) >= 50, 120, 0.1, "requests succeeding again")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert sum(resends) == 0, f"{sum(resends)} requests got no answer on a kept-alive connection (re-sent)"

    before = [e for e in log if e[0] < windows[0][0]]
    assert before and all(e[2] in (200, 202) for e in before), "errors before the fault"
    hung = [e for e in log if e[2] is None]
    assert not hung, f"requests that did not get an answer: {hung[:3]}"
    failed_clean, during, recovered_after = 0, 0, []
    for n, (_down_begin, down_end, up_begin, up_end) in enumerate(windows):
        outage = [e for e in log if down_end + 0.5 < e[0] < up_begin]
        during += len(outage)
        assert outage and all(e[2] == 503 for e in outage), (
            f"requests with the database down not answered 503: {sorted({e[2] for e in outage})}"
        )
        next_down = windows[n + 1][0] if n + 1 < len(windows) else float("inf")
        after = [e for e in log if up_end < e[0] < next_down]
        firsts = [e[0] for e in after if e[2] in (200, 202)]
        assert firsts, "nothing succeeded after the restart"
        recovered_after.append(round(firsts[0] - up_end, 2))
        late = [e for e in after if e[0] > up_end + GRACE]
        assert late and all(e[2] in (200, 202) for e in late), (
            f"still failing {GRACE} s after PostgreSQL was back: "
            f"{[(e[1], e[2]) for e in late if e[2] not in (200, 202)][:5]}"
        )
    # Whatever the outage cut off, a failure is a clean 503 (the database is down: clients may retry), never a
    # 500 (an unclassified exception, e.g. a disconnect in the middle of a transaction).
    for _, kind, status, body in log:
        if status is not None and status >= 400:
            assert status == 503, (kind, status, body[:200])
            assert_clean_error(body, status)
            failed_clean += 1
    assert (server.master, sorted(server.worker_pids())) == pids, "the API was restarted"
    # The data after the restarts, read directly: counters equal count(*); states consistent.
    engine = make_engine(seeded.database_url)
    try:
        counts_checked = assert_counts_match_count_star(engine)
        job_states = assert_jobs_and_executions_consistent(engine)
    finally:
        engine.dispose()
    figures.setdefault("faults", {})["postgres_restart"] = {
        "restarts": len(windows),
        "requests": len(log),
        "requests_while_down": during,
        "clean_failures": failed_clean,
        "seconds_to_first_success": recovered_after,
        "statuses_while_down": sorted({e[2] for e in log if e[2] and e[2] >= 500}),
        "resends": sum(resends),
        "count_queries_checked": counts_checked,
        "job_states": job_states,
    }


def assert_clean_error_like_readyz(body: dict, port: int) -> None:
    """/readyz names the failing dependency by exception type only, never its address or message."""
    text = str(body)
    assert str(port) not in text and "127.0.0.1" not in text and "connection" not in text.lower(), text


def test_database_down_is_503_not_500(pg_server):
    """A dependency being down is "Service Unavailable" (clients and balancers retry it), like Elasticsearch's."""
    pg, server, seeded = pg_server
    api = server.client(token=ADMIN_TOKEN)
    assert api.get("/v6/jobs/").status == 200
    pg.stop()
    try:
        answers = {path: api.get(path) for path in ("/v6/jobs/", f"/v6/jobs/{seeded.job_ids[0]}/", "/v6/job-types/")}
        answers["cancel"] = api.post("/v6/jobs/cancel/", {"job_ids": [seeded.job_ids[0]]})
    finally:
        pg.start()
    for what, a in answers.items():
        assert_clean_error(a.body, a.status)
        assert a.status == 503, (what, a.status, a.body)
    wait_until(lambda: api.get("/v6/jobs/").status == 200, 10, what="recovery")
