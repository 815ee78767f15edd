"""PostgreSQL restarted under load (a cluster of our own: PG_DIR=/tmp/rel-pg PG_PORT=55433, never the shared one):
requests fail cleanly while it is down, and the same gunicorn workers' pools recover once it is back."""
from __future__ import annotations

import random
import threading
import time

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.reliability.harness import Gunicorn, PostgresCluster, assert_clean_error, wait_until
from tests.reliability.seed import seed_jobs


@pytest.fixture(scope="module")
def cluster():
    pg = PostgresCluster()
    base = pg.start()
    yield pg, base
    pg.stop()


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
    yield pg, server, seeded
    server.stop()
    pg.start()  # whatever happened, leave it running for the next test of the module


def test_postgres_restart_under_load_fails_cleanly_and_the_pool_recovers(pg_server, sized, figures):
    pg, server, seeded = pg_server
    pids = (server.master, sorted(server.worker_pids()))
    log: list[tuple[float, str, int | None, bytes]] = []
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

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True) for n in range(sized(8, 16))]
    for t in threads:
        t.start()
    restarts = sized(1, 3)
    windows = []
    try:
        time.sleep(2)
        for _ in range(restarts):
            down_begin = time.monotonic()
            pg.stop()
            down_end = time.monotonic()
            time.sleep(sized(3, 8))
            ready = server.client().get("/readyz")
            assert ready.status == 503 and "unavailable" in ready.json["database"], ready.body
            assert_clean_error_like_readyz(ready.json)
            up_begin = time.monotonic()
            pg.start()
            up_end = time.monotonic()
            windows.append((down_begin, down_end, up_begin, up_end))
            time.sleep(sized(6, 10))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a client hung"

    before = [e for e in log if e[0] < windows[0][0]]
    assert before and all(e[2] in (200, 202) for e in before), "errors before the fault"
    hung = [e for e in log if e[2] is None]
    assert not hung, f"requests that did not get an answer: {hung[:3]}"
    failed_clean, during, recovered_after = 0, 0, []
    for n, (down_begin, down_end, up_begin, up_end) in enumerate(windows):
        outage = [e for e in log if down_end + 0.5 < e[0] < up_begin]
        during += len(outage)
        assert outage and all(e[2] >= 500 for e in outage), "requests succeeded with the database down?"
        next_down = windows[n + 1][0] if n + 1 < len(windows) else float("inf")
        after = [e for e in log if up_end < e[0] < next_down]
        firsts = [e[0] for e in after if e[2] in (200, 202)]
        assert firsts, "nothing succeeded after the restart"
        recovered_after.append(round(firsts[0] - up_end, 2))
        late = [e for e in after if e[0] > up_end + 5]
        assert late and all(e[2] in (200, 202) for e in late), \
            f"still failing 5 s after PostgreSQL was back: {[(e[1], e[2]) for e in late if e[2] not in (200, 202)][:5]}"
    for _, kind, status, body in log:
        if status is not None and status >= 400:
            assert status in (500, 503), (kind, status, body[:200])
            assert_clean_error(body, status)
            failed_clean += 1
    assert (server.master, sorted(server.worker_pids())) == pids, "the API was restarted"
    figures.setdefault("faults", {})["postgres_restart"] = {
        "restarts": restarts, "survived": restarts, "requests": len(log), "requests_while_down": during,
        "clean_failures": failed_clean, "seconds_to_first_success": recovered_after,
        "statuses_while_down": sorted({e[2] for e in log if e[2] and e[2] >= 500})}


def assert_clean_error_like_readyz(body: dict) -> None:
    """/readyz names the failing dependency by exception type only, never its address or message."""
    text = str(body)
    assert "55433" not in text and "127.0.0.1" not in text and "connection" not in text.lower(), text


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
