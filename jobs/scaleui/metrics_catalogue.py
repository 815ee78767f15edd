"""Scale's job type metrics: the columns a client may ask for (name, title, description, units, group, aggregate),
and how hourly rows of job_type_metrics fold into the plot values of a day or an hour. No SQL here.

This service runs no pre or post tasks, so an execution's job task is its whole run: job_time and run_time are
the same figures (both kept, as Scale's UI offers both)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    title: str
    description: str
    units: str
    group: str
    aggregate: str  # sum | min | max | avg


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    description: str


GROUPS = (
    Group("overview", "Overview", "Overall counts based on job status."),
    Group("errors", "Errors", "Overall error counts based on category."),
    Group("queue_time", "Queue Time", "Times spent waiting in the queue before an execution started."),
    Group("job_time", "Job Time", "Times spent running the job task of an execution."),
    Group("run_time", "Run Time", "Times spent running an execution (here its job task alone: no pre/post tasks)."),
)


def _times(group: str, what: str) -> tuple[Column, ...]:
    title = group.replace("_", " ").title()
    return tuple(
        Column(f"{group}_{agg}", f"{title} ({label})", f"{label} {what}", "seconds", group, aggregate)
        for agg, label, aggregate in (
            ("sum", "Sum", "sum"),
            ("min", "Min", "min"),
            ("max", "Max", "max"),
            ("avg", "Avg", "avg"),
        )
    )


COLUMNS: tuple[Column, ...] = (
    Column("completed_count", "Completed Count", "Number of successfully completed jobs.", "count", "overview", "sum"),
    Column("failed_count", "Failed Count", "Number of jobs that failed (no tries left).", "count", "overview", "sum"),
    Column("total_count", "Total Count", "Number of completed and failed jobs.", "count", "overview", "sum"),
    Column(
        "error_system_count",
        "System Error Count",
        "Number of failed jobs due to system errors.",
        "count",
        "errors",
        "sum",
    ),
    Column(
        "error_data_count", "Data Error Count", "Number of failed jobs due to data errors.", "count", "errors", "sum"
    ),
    Column(
        "error_algorithm_count",
        "Algorithm Error Count",
        "Number of failed jobs due to algorithm errors.",
        "count",
        "errors",
        "sum",
    ),
    *_times("queue_time", "time an ended job's last execution waited in the queue."),
    *_times("job_time", "time an ended job's last execution spent in its job task."),
    *_times("run_time", "time an ended job's last execution ran."),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
GROUP_NAMES = tuple(g.name for g in GROUPS)

# The figures stored per job type and hour (jobs.models.JobTypeMetrics), in the order of metrics_store.STORED's
# rows after job_type_id and occurred.
FIGURES = (
    "completed_count",
    "failed_count",
    "error_system_count",
    "error_data_count",
    "error_algorithm_count",
    "queue_count",
    "queue_time_sum",
    "queue_time_min",
    "queue_time_max",
    "run_count",
    "run_time_sum",
    "run_time_min",
    "run_time_max",
)


def selected(columns: Sequence[str] | None, groups: Sequence[str] | None) -> list[Column]:
    """The columns asked for by name, in the order asked (Scale's Job Type History page reads its four columns'
    plots by position), then those of the groups asked for; every column without either."""
    if columns is None and groups is None:
        return list(COLUMNS)
    by_name = {c.name: c for c in COLUMNS}
    chosen = list(dict.fromkeys(by_name[name] for name in columns or ()))
    chosen += [c for c in COLUMNS if groups and c.group in groups and c not in chosen]
    return chosen


@dataclass
class _Bucket:
    figures: dict[str, Any]

    def add(self, row: dict[str, Any]) -> None:
        for name, value in row.items():
            old = self.figures.get(name)
            if name.endswith("_min"):
                self.figures[name] = value if old is None else (old if value is None else min(old, value))
            elif name.endswith("_max"):
                self.figures[name] = value if old is None else (old if value is None else max(old, value))
            else:
                self.figures[name] = (old or 0) + value

    def value(self, column: Column) -> float | int | None:
        f = self.figures
        if column.name == "total_count":
            return f["completed_count"] + f["failed_count"]
        if column.units == "count":
            return f[column.name]
        stored = "run" if column.group in ("job_time", "run_time") else "queue"
        suffix = column.name.rsplit("_", 1)[1]
        if suffix == "avg":
            count = f[f"{stored}_count"]
            return f[f"{stored}_time_sum"] / count if count else None
        return f[f"{stored}_time_{suffix}"]


def fold(rows: Sequence[Any], columns: Sequence[Column], hourly: bool, by_choice: bool) -> list[dict]:
    """Plot data of each column: {"column", "min_x", "max_x", "min_y", "max_y", "values"}. Rows are STORED rows;
    values are per day (per hour when `hourly`), per job type when `by_choice` (each value then has its "id"),
    else summed over the job types; oldest first."""
    buckets: dict[tuple[int | None, datetime], _Bucket] = {}
    for row in rows:
        moment = row[1] if hourly else row[1].replace(hour=0)
        key = (row[0] if by_choice else None, moment)
        buckets.setdefault(key, _Bucket({})).add(dict(zip(FIGURES, row[2:])))
    ordered = sorted(buckets.items(), key=lambda item: (item[0][1], item[0][0] or 0))
    out = []
    for column in columns:
        values = []
        for (choice, moment), bucket in ordered:
            value = bucket.value(column)
            if value is None:
                continue
            point: dict[str, Any] = {"id": choice} if choice is not None else {}
            point.update(date=moment.date().isoformat(), datetime=moment, value=value)
            values.append(point)
        ys = [v["value"] for v in values]
        out.append(
            {
                "column": column,
                "min_x": values[0]["date"] if values else None,
                "max_x": values[-1]["date"] if values else None,
                "min_y": min(ys) if ys else None,
                "max_y": max(ys) if ys else None,
                "values": values,
            }
        )
    return out
