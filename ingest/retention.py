"""Retention (LOG_RETENTION_DAYS): delete the daily log indices older than the window, each by its exact name.

The index of day D (`<prefix>-YYYY.MM.DD`, UTC) holds lines written that day; it is deleted once every one of
them is more than N days old, i.e. when D is before today - N. So a line is kept at least N days, and at most
N + 1 (plus the time to the next prune).

Only names that are exactly `<prefix>-YYYY.MM.DD` with a real date are ever deleted, one DELETE per name (no
wildcard: clusters refuse those anyway with action.destructive_requires_name); anything else matching the
prefix (another prefix that starts with ours, aliases, Fluentd's other indices) is left alone.

`python -m ingest prune` runs it once; the API runs it daily (DailyPrune, a thread in each gunicorn worker)
when LOG_RETENTION_DAYS is set and LOG_ILM_POLICY is not: each day the first process to claim the day in the
shared database prunes, the others skip, so a fleet of API processes prunes once a day, not all at once.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from elasticsearch import Elasticsearch

from core.times import Clock

log = logging.getLogger(__name__)

DAY_FORMAT = "%Y.%m.%d"
_DAY = re.compile(r"\d{4}\.\d{2}\.\d{2}")
TASK = "log-retention-prune"


def first_kept_day(today: date, days: int) -> date:
    """The oldest day whose index is kept with a retention of `days` days."""
    return today - timedelta(days=days)


def index_day(name: str, prefix: str) -> date | None:
    """The day of a daily index `<prefix>-YYYY.MM.DD`; None for any other name."""
    head = f"{prefix}-"
    if not name.startswith(head) or not _DAY.fullmatch(name[len(head) :]):
        return None
    try:
        return datetime.strptime(name[len(head) :], DAY_FORMAT).date()
    except ValueError:  # 2026.02.30 and the like
        return None


def prunes_daily(settings) -> bool:
    """The service prunes by itself when LOG_RETENTION_DAYS is set, unless LOG_ILM_POLICY lets the cluster
    delete old indices (then LOG_RETENTION_DAYS only tells reads how long lines are kept)."""
    return settings.log_retention_days is not None and not settings.log_ilm_policy


def expired(started: datetime | None, today: date, days: int | None) -> bool:
    """Whether lines of an execution that started then may have been pruned already."""
    return days is not None and started is not None and started.date() < first_kept_day(today, days)


@dataclass
class PruneReport:
    first_kept_day: date
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # daily indices of the prefix still there

    def as_dict(self) -> dict:
        return {"first_kept_day": self.first_kept_day.isoformat(), "deleted": self.deleted, "kept": len(self.kept)}


def prune(es: Elasticsearch, prefix: str, days: int, today: date) -> PruneReport:
    """Delete the daily indices of prefix older than days days (needs view_index_metadata and delete_index on
    <prefix>-*)."""
    report = PruneReport(first_kept_day(today, days))
    # Names only (features=settings is the smallest part of the answer); closed indices count too.
    found = es.indices.get(index=f"{prefix}-*", expand_wildcards="open,closed", features="settings")
    for name in sorted(found.body):
        day = index_day(name, prefix)
        if day is None:
            continue
        if day >= report.first_kept_day:
            report.kept.append(name)
            continue
        # 404: another process deleted it in between, which is what we wanted.
        answer = es.options(ignore_status=404).indices.delete(index=name, expand_wildcards="none")
        if answer.meta.status == 200:
            report.deleted.append(name)
            log.info("deleted log index %s (older than %d days)", name, days)
    return report


class DailyPrune:
    """A daemon thread that prunes once a day for the whole fleet: every `check_seconds` it tries to claim
    today (claim(task, day, holder) -> bool, the shared database); the process that does prunes, and gives the
    day back if pruning failed so another one retries."""

    def __init__(
        self,
        es: Elasticsearch,
        prefix: str,
        days: int,
        claim: Callable[[str, date, str], bool],
        release: Callable[[str, date], None],
        clock: Clock,
        check_seconds: float = 3600.0,
    ):
        self._es, self._prefix, self._days = es, prefix, days
        self._claim, self._release, self._clock = claim, release, clock
        self._check_seconds = check_seconds
        self._holder = f"{socket.gethostname()}:{os.getpid()}"  # who pruned, for whoever looks at the table
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-retention", daemon=True)
        self.last_report: PruneReport | None = None

    def start(self) -> DailyPrune:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self) -> PruneReport | None:
        """Prune if this process claims today; None when another one has (or pruning failed)."""
        today = self._clock().date()
        try:
            if not self._claim(TASK, today, self._holder):
                return None
        except Exception as exc:  # the database is down: try again at the next check
            log.warning("log retention: could not claim today's prune: %s", type(exc).__name__)
            return None
        try:
            self.last_report = prune(self._es, self._prefix, self._days, today)
        except Exception as exc:  # Elasticsearch down or refusing: another process (or the next check) retries
            log.warning("log retention: prune failed, retried later: %s", exc)
            try:
                self._release(TASK, today)
            except Exception:  # the day stays claimed: tomorrow's prune deletes what today's left
                pass
            return None
        log.info("log retention: %s", self.last_report.as_dict())
        return self.last_report

    def _run(self) -> None:
        # A random first delay: processes started together don't all reach the database at the same moment.
        if self._stop.wait(random.uniform(1.0, min(60.0, self._check_seconds))):
            return
        while True:
            self.run_once()
            if self._stop.wait(self._check_seconds):
                return
