"""Retention: `python -m ingest prune` and the API's daily prune delete the daily indices older than
LOG_RETENTION_DAYS, each by its exact name, and nothing else; one process of a fleet prunes per day."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch
from sqlalchemy import create_engine, text

from core.elastic import elasticsearch_client
from core.times import utcnow
from ingest.retention import TASK, DailyPrune, prune
from jobs.daily_task_store import DailyTaskStore
from tests.conftest import ADMIN_TOKEN
from tests.es_node import ROOT, connection_env, role_key
from tests.reliability.harness import Gunicorn, wait_until

DAY = "%Y.%m.%d"
# The in-process prunes' clock: frozen at noon of a fixed day, so no test crosses midnight UTC while it runs.
NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)


def frozen() -> datetime:
    return NOON


def make_indices(es, names: list[str], closed: tuple[str, ...] = ()) -> None:
    for name in names:
        es.indices.create(index=name, settings={"number_of_replicas": 0}, wait_for_active_shards="1")
    for name in closed:
        es.indices.close(index=name)


def existing(es, prefix: str) -> set[str]:
    return set(es.indices.get(index=f"{prefix}*", expand_wildcards="all"))


def retention_settings(es, settings):
    """The service's settings for pruning: on a secured node, an API key with only the retention role."""
    if settings.elasticsearch_api_key is None:
        return settings
    return replace(settings, elasticsearch_api_key=role_key(es, ["scalelogs_retention"]))


def test_prune_deletes_the_old_daily_indices_by_name_and_nothing_else(es, settings, log_prefix):
    p = log_prefix
    today = date(2026, 3, 10)  # with 7 days, 2026.03.03 is the oldest day kept
    old = [f"{p}-2026.03.02", f"{p}-2025.12.31", f"{p}-2026.01.02"]
    kept = [f"{p}-2026.03.03", f"{p}-2026.03.10", f"{p}-2026.04.01"]
    others = [
        f"{p}-eu-2026.01.01",  # another prefix that starts with ours
        f"{p}-legacy-2019.01.01",
        f"{p}-2026.02.30",  # not a date
        f"{p}-2026.01.01-restored",
        f"{p}-archive",
    ]
    make_indices(es, old + kept + others, closed=(f"{p}-2026.01.02",))
    # The prune's own client: the service's; on a secured node its key must hold the retention role.
    client = elasticsearch_client(retention_settings(es, settings))
    report = prune(client, p, 7, today)
    assert sorted(report.deleted) == sorted(old)
    assert sorted(report.kept) == sorted(kept)
    assert report.as_dict() == {"first_kept_day": "2026-03-03", "deleted": sorted(old), "kept": 3}
    assert existing(es, p) == set(kept + others)
    # Again: nothing left to delete.
    assert prune(client, p, 7, today).deleted == []


def prune_command(settings, **env) -> subprocess.CompletedProcess:
    full = {name: value for name, value in os.environ.items() if name != "LOG_RETENTION_DAYS"}
    full.update(connection_env(settings.elasticsearch_url))
    full.update(
        LOG_INDEX_PREFIX=settings.log_index_prefix,
        DATA_DIR=str(settings.data_dir),
        API_TOKEN="unused",
        PYTHONPATH=str(ROOT),
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "ingest", "prune"], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )


def test_prune_command_reports_what_it_deleted(es, settings, log_prefix):
    # The command prunes as of its own UTC date. The indices sit days away from the 3-day boundary, so whether
    # midnight UTC passes between here and the command, the same one goes; its report's day is either date.
    before = utcnow().date()
    gone = f"{log_prefix}-{(before - timedelta(days=10)).strftime(DAY)}"
    stays = f"{log_prefix}-{(before - timedelta(days=1)).strftime(DAY)}"
    make_indices(es, [gone, stays])
    env = {"LOG_RETENTION_DAYS": "3"}
    if settings.elasticsearch_api_key is not None:  # secured: a key with the retention role only
        env["ELASTICSEARCH_API_KEY"] = role_key(es, ["scalelogs_retention"])
    done = prune_command(settings, **env)
    after = utcnow().date()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["first_kept_day"] in {(d - timedelta(days=3)).isoformat() for d in (before, after)}
    assert report == {"first_kept_day": report["first_kept_day"], "deleted": [gone], "kept": 1}
    assert existing(es, log_prefix) == {stays}
    unset = prune_command(settings)
    assert (unset.returncode, unset.stderr.strip()) == (
        78,
        "python -m ingest prune: LOG_RETENTION_DAYS is not set: nothing is ever pruned",
    )


def test_the_daily_prune_runs_once_a_day_for_the_whole_fleet(es, settings, stores, log_prefix):
    """Two API processes (two DailyPrune on one database): the first to claim the day prunes, the other skips;
    a prune that failed gives the day back so another process retries."""
    today = NOON.date()
    old = f"{log_prefix}-{(today - timedelta(days=40)).strftime(DAY)}"
    make_indices(es, [old])
    tasks = DailyTaskStore(stores.db, frozen)
    client = elasticsearch_client(retention_settings(es, settings))
    down = Elasticsearch("http://127.0.0.1:9", request_timeout=1, max_retries=0)
    failing = DailyPrune(down, log_prefix, 30, tasks.claim, tasks.release, frozen)
    first = DailyPrune(client, log_prefix, 30, tasks.claim, tasks.release, frozen)
    second = DailyPrune(client, log_prefix, 30, tasks.claim, tasks.release, frozen)
    assert failing.run_once() is None  # claimed, failed, released
    assert old in existing(es, log_prefix)
    report = first.run_once()
    assert report is not None and report.deleted == [old]
    assert second.run_once() is None  # the day is taken
    assert tasks.claim(TASK, today, "someone") is False
    assert tasks.claim(TASK, today + timedelta(days=1), "someone") is True  # tomorrow is free


def test_the_daily_prune_thread_prunes_soon_after_start_and_stops(es, settings, stores, log_prefix):
    today = NOON.date()
    old = f"{log_prefix}-{(today - timedelta(days=10)).strftime(DAY)}"
    make_indices(es, [old])
    tasks = DailyTaskStore(stores.db, frozen)
    client = elasticsearch_client(retention_settings(es, settings))
    pruner = DailyPrune(client, log_prefix, 5, tasks.claim, tasks.release, frozen, check_seconds=2.0)
    pruner.start()
    try:
        wait_until(lambda: pruner.last_report is not None, 30, 0.2, "the first prune")
    finally:
        pruner.stop()
    assert pruner.last_report.deleted == [old]
    assert old not in existing(es, log_prefix)


@pytest.mark.slow
def test_gunicorn_prunes_by_itself_once_for_its_workers(es, settings, tmp_path, log_prefix):
    """The production entry point (api.wsgi, 2 workers) with LOG_RETENTION_DAYS=3 and nothing else: a 40-day-old
    daily index goes within the first check (a random 1-60 s after each worker starts), today's index stays, and
    the day was claimed once, by a worker (one daily_tasks row, holder hostname:pid of a worker, not the master).
    That the other worker then skips is test_the_daily_prune_runs_once_a_day_for_the_whole_fleet's part."""
    before = utcnow().date()
    old = f"{log_prefix}-{(before - timedelta(days=40)).strftime(DAY)}"
    recent = f"{log_prefix}-{before.strftime(DAY)}"
    make_indices(es, [old, recent])
    env = {"LOG_RETENTION_DAYS": "3"}
    if settings.elasticsearch_api_key is not None:  # secured: the API's key needs the retention role too
        env["ELASTICSEARCH_API_KEY"] = role_key(es, ["scalelogs_writer", "scalelogs_reader", "scalelogs_retention"])
    server = Gunicorn(
        tmp_path / "api",
        settings.database_url,
        settings.elasticsearch_url,
        log_prefix,
        ADMIN_TOKEN,
        workers=2,
        extra_env=env,
    ).start()
    try:
        wait_until(lambda: old not in existing(es, log_prefix), 90, 0.5, f"gunicorn pruning {old}")
        workers = server.worker_pids()
    finally:
        server.stop()
    after = utcnow().date()
    assert existing(es, log_prefix) == {recent}
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT task, day, holder FROM daily_tasks")).all()
    finally:
        engine.dispose()
    assert len(rows) == 1, rows
    task, day, holder = rows[0]
    assert task == TASK and str(day) in {before.isoformat(), after.isoformat()}
    assert int(holder.rsplit(":", 1)[1]) in workers  # a worker claimed it (hostname:pid), not the master
