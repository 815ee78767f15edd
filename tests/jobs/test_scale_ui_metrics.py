"""Job type metrics (table job_type_metrics, migration 0013) and the pages that read them: Scale's Job Type History
(/v6/metrics/job-types/ for its choices, then plot-data with its four columns, as the UI sends it: page_size=null,
group=null, dataType, repeated choice_id and column) and Data -> Metrics; the error catalogue, the timeline and the
empty recipe types list. The aggregates are checked against a count over the jobs table."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import select

from jobs.db import alembic_config
from jobs.models import Error, Job, JobExecution, JobTypeMetrics
from tests.jobs.conftest import T0
from tests.jobs.helpers import add_job_type, finish, manifest, queue, start

ANGULAR = {"Accept": "application/json, text/plain, */*"}
HISTORY_COLUMNS = ("error_system_count", "error_algorithm_count", "error_data_count", "total_count")


def get(api, path: str, query: str = ""):
    r = api.simulate_get(path, query_string=query, headers=ANGULAR)
    assert r.status_code == 200, (path, query, r.status_code, r.text)
    return r.json


@pytest.fixture
def history(api, auth, clock):
    """Jobs that complete, fail (each category, one retried first) and are canceled, over two days."""
    errors = [{"code": 3, "name": "bad-input", "title": "Bad input", "category": "data"}]
    a = add_job_type(api, auth, manifest("my-algo", files=(), title="My Algorithm", errors=errors))
    b = add_job_type(api, auth, manifest("other", files=(), title="Other"))
    out = {"a": a, "b": b}
    done = queue(api, auth, a["id"], {})["id"]  # 00:00
    clock.advance(minutes=1)
    exe = start(api, auth, done)["id"]  # queued 60 s
    clock.advance(minutes=2)
    finish(api, auth, exe, "COMPLETED")  # ran 120 s, in hour 00
    clock.advance(hours=1, minutes=7)  # 01:10
    data = queue(api, auth, a["id"], {})["id"]
    exe = start(api, auth, data)["id"]
    clock.advance(seconds=30)
    finish(api, auth, exe, "FAILED", error={"name": "bad-input"})
    retried = queue(api, auth, a["id"], {})["id"]
    finish(api, auth, start(api, auth, retried)["id"], "FAILED", error={"category": "SYSTEM", "title": "Disk"})
    clock.advance(seconds=10)  # requeued (a system error, tries left): only its last end counts
    exe = start(api, auth, retried)["id"]
    clock.advance(seconds=20)
    finish(api, auth, exe, "FAILED")  # algorithm-unknown
    clock.advance(days=1)  # 2020-01-02T01:11
    other = queue(api, auth, b["id"], {})["id"]
    finish(api, auth, start(api, auth, other)["id"], "COMPLETED")
    running = queue(api, auth, b["id"], {})["id"]
    start(api, auth, running)
    waiting = queue(api, auth, b["id"], {})["id"]
    r = api.simulate_post("/v6/jobs/cancel/", json={"job_ids": [running, waiting]}, headers=auth)
    assert r.json == {"matched": 2}
    system = queue(api, auth, b["id"], {})["id"]
    for _ in range(3):  # a system error three times: no tries left, it fails for good
        finish(api, auth, start(api, auth, system)["id"], "FAILED", error={"category": "SYSTEM", "title": "Disk"})
    return out


def expected_from_jobs(stores) -> dict:
    """The aggregates as a count over the jobs table: per (job type, hour ended), the COMPLETED and FAILED jobs by
    error category, with the queue and run times of their current executions."""
    out: dict = {}
    with stores.db.sessions() as s:
        rows = s.execute(
            select(Job.job_type_id, Job.status, Job.ended, Error.category, JobExecution.queued, JobExecution.started)
            .outerjoin(Error, Error.id == Job.error_id)
            .outerjoin(JobExecution, (JobExecution.job_id == Job.id) & (JobExecution.exe_num == Job.num_exes))
            .where(Job.status.in_(("COMPLETED", "FAILED")))
        ).all()
    for type_id, status, ended, category, queued, started in rows:
        key = (type_id, ended.replace(minute=0, second=0, microsecond=0))
        c = out.setdefault(key, Counter())
        c["completed_count" if status == "COMPLETED" else "failed_count"] += 1
        if status == "FAILED":
            c[f"error_{category.lower()}_count"] += 1
        c["queue_time_sum"] += (started - queued).total_seconds()
        c["run_time_sum"] += (ended - started).total_seconds()
    return out


def stored(stores) -> dict:
    names = ("completed_count", "failed_count", "error_system_count", "error_data_count", "error_algorithm_count")
    out = {}
    with stores.db.sessions() as s:
        for m in s.scalars(select(JobTypeMetrics)):
            c = Counter({n: getattr(m, n) for n in names if getattr(m, n)})
            c.update(queue_time_sum=m.queue_time_sum, run_time_sum=m.run_time_sum)
            out[(m.job_type_id, m.occurred)] = +c
    return out


def test_aggregates_equal_a_count_over_the_jobs(api, history, stores):
    expected = {k: +v for k, v in expected_from_jobs(stores).items()}
    assert stored(stores) == expected
    a, b = history["a"]["id"], history["b"]["id"]
    day1, day2 = T0, T0 + timedelta(days=1)  # the frozen clock's start, and the day after
    assert expected[(a, day1)] == Counter(completed_count=1, queue_time_sum=60, run_time_sum=120)
    assert expected[(a, day1 + timedelta(hours=1))] == Counter(
        failed_count=2, error_data_count=1, error_algorithm_count=1, queue_time_sum=10, run_time_sum=50
    )  # the retried job's last try waited 10 s in the queue
    assert sum(v["failed_count"] for k, v in expected.items() if k[0] == b and k[1] >= day2) == 1  # canceled: none


def test_migration_fills_the_aggregates_from_earlier_jobs(api, history, stores):
    before = stored(stores)
    config = alembic_config()
    for revision, step in (("0012", command.downgrade), ("head", command.upgrade)):
        with stores.db.engine.begin() as c:
            config.attributes["connection"] = c
            step(config, revision)
    after = stored(stores)
    assert after.keys() == before.keys()
    for key, counts in before.items():  # SQLite's julianday() arithmetic is exact to about 0.1 ms
        assert after[key] == pytest.approx(counts, abs=1e-3), key


def test_job_type_history_as_the_ui_sends_it(api, history):
    details = get(api, "/v6/metrics/job-types/")
    assert [(c["name"], c["version"], c["title"]) for c in details["choices"]] == [
        ("my-algo", "1.0.0", "My Algorithm"),
        ("other", "1.0.0", "Other"),
    ]
    assert {"completed_count", "failed_count", "total_count", "run_time_avg"} <= {c["name"] for c in details["columns"]}
    ids = [c["id"] for c in details["choices"]]
    query = "&".join(
        ["page=1", "page_size=null", "started=2019-12-03T00:00:00.000Z", "ended=2020-01-03T00:00:00.000Z"]
        + [f"choice_id={i}" for i in ids]
        + [f"column={c}" for c in HISTORY_COLUMNS]
        + ["group=null", "dataType=job-types"]
    )
    page = get(api, "/v6/metrics/job-types/plot-data/", query)
    # The page reads the four plots by position: system, algorithm, data, total.
    assert [r["column"]["name"] for r in page["results"]] == list(HISTORY_COLUMNS)

    def total(plot, type_id):
        return sum(v["value"] for v in plot["values"] if v["id"] == type_id)

    system, algorithm, data, everything = page["results"]
    a, b = history["a"]["id"], history["b"]["id"]
    assert [total(p, a) for p in (system, algorithm, data, everything)] == [0, 1, 1, 3]
    assert [total(p, b) for p in (system, algorithm, data, everything)] == [1, 0, 0, 2]
    assert {v["date"] for v in everything["values"]} == {"2020-01-01", "2020-01-02"}
    assert (everything["min_x"], everything["max_x"], everything["max_y"]) == ("2020-01-01", "2020-01-02", 3)


def test_data_metrics_plots(api, history):
    a = history["a"]["id"]
    # One choice: no ids in the values; per day by default.
    one = get(api, "/v6/metrics/job-types/plot-data/", f"choice_id={a}&column=run_time_max&column=queue_time_avg")
    run_max, queue_avg = one["results"]
    assert run_max["values"] == [{"date": "2020-01-01", "datetime": "2020-01-01T00:00:00Z", "value": 120.0}]
    assert queue_avg["values"][0]["value"] == pytest.approx(70.0 / 3)  # three jobs ended: queued 60 s, 0 s, 10 s
    # No choice: summed over every job type; by hour when asked (ours).
    hourly = get(api, "/v6/metrics/job-types/plot-data/", "group=overview&interval=hour&started=2020-01-01T00:30:00Z")
    assert [r["column"]["name"] for r in hourly["results"]] == ["completed_count", "failed_count", "total_count"]
    completed = hourly["results"][0]
    assert [(v["datetime"], v["value"]) for v in completed["values"]] == [
        ("2020-01-01T00:00:00Z", 1),
        ("2020-01-01T01:00:00Z", 0),
        ("2020-01-02T01:00:00Z", 1),
    ]
    assert get(api, "/v6/metrics/job-types/plot-data/", "ended=2019-12-31T00:00:00Z")["results"][0]["values"] == []
    listed = get(api, "/v6/metrics/")
    assert [t["name"] for t in listed["results"]] == ["job-types"] and listed["count"] == 1
    for path, status in (("/v6/metrics/ingest/", 404), ("/v6/metrics/ingest/plot-data/", 404)):
        assert api.simulate_get(path).status_code == status
    r = api.simulate_get("/v6/metrics/job-types/plot-data/", query_string="column=colour")
    assert r.status_code == 400 and r.json["detail"].startswith('Parameter "column" values must be one of')


def test_error_catalogue(api, history):
    page = get(api, "/v6/errors/", "page=1&page_size=100&job_type_name=my-algo")
    # Its manifest's error, and the one an executor reported by title for it.
    assert [(e["name"], e["category"], e["is_builtin"]) for e in page["results"]] == [
        ("bad-input", "DATA", False),
        ("disk", "SYSTEM", False),
    ]
    everything = get(api, "/v6/errors/", "page_size=1000")["results"]
    names = {e["name"] for e in everything}
    assert {"bad-input", "algorithm-unknown", "node-lost", "disk"} <= names
    builtin = get(api, "/v6/errors/", "is_builtin=true&category=SYSTEM&order=-name")["results"]
    assert builtin and all(e["is_builtin"] and e["category"] == "SYSTEM" for e in builtin)
    assert [e["name"] for e in builtin] == sorted((e["name"] for e in builtin), reverse=True)
    one = everything[0]
    assert get(api, f"/v6/errors/{one['id']}/") == one
    assert api.simulate_get("/v6/errors/999999/").status_code == 404


def test_timeline_accepts_id_and_job_type_id(api, history):
    a, b = history["a"]["id"], history["b"]["id"]
    query = "started=2019-12-31T00:00:00.000Z&ended=2020-01-03T00:00:00.000Z"
    everything = get(api, "/v6/timeline/job-types/", query)["results"]
    assert [(t["name"], t["results"]) for t in everything] == [
        ("my-algo", [{"date": "2020-01-01", "count": 3}]),
        ("other", [{"date": "2020-01-02", "count": 4}]),
    ]
    assert [t["job_type_id"] for t in get(api, "/v6/timeline/job-types/", f"{query}&id={b}")["results"]] == [b]
    assert [t["job_type_id"] for t in get(api, "/v6/timeline/job-types/", f"{query}&job_type_id={a}")["results"]] == [a]
    # Without started (Scale required it): the last 30 days.
    assert [t["job_type_id"] for t in get(api, "/v6/timeline/job-types/", f"id={a}")["results"]] == [a]
    r = api.simulate_get(
        "/v6/timeline/job-types/", query_string="started=2020-01-02T00:00:00Z&ended=2020-01-01T00:00:00Z"
    )
    assert (r.status_code, r.json["detail"]) == (400, "Start time must come before end time")


def test_recipe_types_are_an_empty_list(api):
    for path in ("/v6/recipe-types/", "/v6/timeline/recipe-types/"):
        assert get(api, path, "page=1&page_size=1000&started=2020-01-01T00:00:00.000Z") == {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
        }


def test_dashboard_job_history_chart_as_the_ui_sends_it(api, history, clock):
    # No favourites: no choice_id at all, both columns and the overview group twice, a stray colors object.
    clock.advance(days=3)  # the chart asks for the last ten days up to now
    query = (
        "choice_id=&column=completed_count&column=failed_count&colors=%5Bobject%20Object%5D"
        "&colors=%5Bobject%20Object%5D&dataType=job-types&started=2019-12-25T01:11:00.000Z"
        "&ended=2020-01-05T01:11:00.000Z&group=overview&group=overview&page=1&page_size=null"
    ).replace("choice_id=&", "")
    page = get(api, "/v6/metrics/job-types/plot-data/", query)
    by_column = {r["column"]["name"]: r for r in page["results"]}
    assert [(v["date"], v["value"]) for v in by_column["completed_count"]["values"]] == [
        ("2020-01-01", 1),
        ("2020-01-02", 1),
    ]
    assert [(v["date"], v["value"]) for v in by_column["failed_count"]["values"]] == [
        ("2020-01-01", 2),
        ("2020-01-02", 1),
    ]
    assert all("id" not in v for r in page["results"] for v in r["values"])  # summed over every job type
    # One favourite: still no id in the values (the chart then takes the one choice it asked for).
    one = get(api, "/v6/metrics/job-types/plot-data/", f"{query}&choice_id={history['b']['id']}")
    assert [(v["date"], v["value"]) for v in one["results"][1]["values"]] == [("2020-01-02", 1)]
