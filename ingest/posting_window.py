"""Which `@timestamp`s an executor may give the lines it posts to an execution, and until when it may post.

A line's `@timestamp` picks its daily index (ingest.documents), so a timestamp the executor chose freely would
let one request create an index for every day it names (shard exhaustion), write into days that retention has
pruned, or into the far future, and lines could be added to an execution long finished. So a posted line's
`@timestamp` must lie within the execution's life as the service saw it: from when the service registered the
execution to when it ended (now, while it runs), widened on both sides by the clock skew allowed between an
executor and the service, and never before the first day retention keeps. `started` and `ended` are not used:
the executor reports them itself. A line without `@timestamp` gets the time it is received, always allowed.

An ended execution still takes lines for a grace period (an executor's last batch may arrive after it reported
the end), then its log is closed: a post is refused as a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from core.times import format_datetime, format_ns, ns_of
from ingest.retention import first_kept_day
from jobs.errors import JobStateConflict
from jobs.records import LogTarget


class LogClosed(JobStateConflict):
    """The execution ended more than the grace period ago: its log takes no more lines (409)."""


@dataclass(frozen=True)
class PostingWindow:
    """The `@timestamp`s (epoch nanoseconds, both ends included) a posted line may carry."""

    earliest_ns: int
    latest_ns: int
    skew_seconds: float

    def refusal(self, time_ns: int) -> str | None:
        """Why a line stamped `time_ns` is refused, or None when it is inside."""
        if self.earliest_ns <= time_ns <= self.latest_ns:
            return None
        return (
            f'"@timestamp" {format_ns(time_ns)} is outside this execution\'s life: a line must be stamped between '
            f"{format_ns(self.earliest_ns)} and {format_ns(self.latest_ns)} (from when the service registered "
            f"the execution until it ended, or now while it runs, give or take {self.skew_seconds:g} s of clock "
            "skew, and within the retention window), or carry no @timestamp"
        )


def posting_window(
    target: LogTarget, now: datetime, skew_seconds: float, grace_seconds: float, retention_days: int | None
) -> PostingWindow:
    """The window of `target`'s posted lines at `now`; raises LogClosed once its grace period is over."""
    ended = target.finished_at if target.is_finished else None
    if ended is not None and now > ended + timedelta(seconds=grace_seconds):
        raise LogClosed(
            f"Job execution {target.id} ended at {format_datetime(ended)}; its log took lines until "
            f"{grace_seconds:g} s after that (LOG_GRACE_SECONDS) and is now closed"
        )
    skew = timedelta(seconds=skew_seconds)
    earliest = (target.registered or target.started or now) - skew
    if retention_days is not None:
        # A line of a day retention already deleted would recreate that day's index until the next prune.
        earliest = max(
            earliest, datetime.combine(first_kept_day(now.astimezone(UTC).date(), retention_days), time(), UTC)
        )
    return PostingWindow(ns_of(earliest), ns_of((ended or now) + skew), skew_seconds)
