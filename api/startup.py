"""What the API does once at start-up besides building its services: check the Elasticsearch connection in
gunicorn's master before it forks (gunicorn.conf.py), and start the daily retention prune in each worker
(api/wsgi.py)."""

from __future__ import annotations

import logging
import sys

from core.elastic import elasticsearch_client
from core.preflight import Needs, Refused, check_connection, pruner_needs, reader_needs, writer_needs
from core.times import Clock
from ingest.retention import DailyPrune, prunes_daily
from ingest.template import template_check
from jobs.daily_task_store import DailyTaskStore
from jobs.db import Database
from settings import Settings

log = logging.getLogger("api.startup")


def api_needs(settings: Settings) -> Needs:
    """The API ships posted lines, reads and searches them, and prunes old indices when retention is on."""
    needs = writer_needs(settings) + reader_needs(settings)
    return needs + pruner_needs(settings) if prunes_daily(settings) else needs


def preflight_or_exit(settings: Settings, program: str = "gunicorn") -> None:
    """Exit with one line when the connection can never work; log a warning when the cluster is only down."""
    try:
        warnings = check_connection(settings, api_needs(settings), template_check(settings))
    except Refused as exc:
        sys.exit(f"{program}: {exc}")
    for warning in warnings:
        log.warning("%s", warning)


def start_daily_prune(settings: Settings, db: Database, clock: Clock) -> DailyPrune | None:
    """The retention thread of this process, when LOG_RETENTION_DAYS is set (and no ILM policy deletes)."""
    if not prunes_daily(settings) or settings.log_retention_days is None:
        return None
    tasks = DailyTaskStore(db, clock)
    es = elasticsearch_client(settings, patient=True)
    return DailyPrune(
        es, settings.log_index_prefix, settings.log_retention_days, tasks.claim, tasks.release, clock
    ).start()
