"""The reads behind Scale's UI pages have an index to use: the database's own plan of each statement (SQLite's
EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with sequential scans priced out, since on a small table it would rightly
prefer one) reads jobs and job_type_metrics through an index, never by scanning the whole table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.scaleui.job_type_status_store import counted, queued_per_type, running_per_type
from jobs.scaleui.metrics_store import hourly_statement

STARTED = datetime(2020, 1, 1, tzinfo=UTC)
ENDED = datetime(2020, 1, 2, tzinfo=UTC)


def plan(engine, statement) -> str:
    with engine.connect() as c:
        compiled = statement.compile(dialect=c.dialect, compile_kwargs={"render_postcompile": True})
        if c.dialect.name == "postgresql":
            c.exec_driver_sql("SET enable_seqscan = off")
            rows = c.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        else:
            values = tuple(compiled.params[name] for name in compiled.positiontup)
            rows = c.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)
        text = "\n".join(str(row[-1]) for row in rows)
        c.rollback()
        return text


def uses_an_index(text: str, table: str) -> bool:
    if "Seq Scan on" in text:  # PostgreSQL found no index for some table
        return f"Seq Scan on {table}" not in text
    lines = [line for line in text.splitlines() if f" {table} " in f" {line} " or line.endswith(table)]
    return bool(lines) and all("USING" in line for line in lines if line.startswith(("SCAN", "SEARCH")))


@pytest.mark.parametrize(
    "name, statement, table",
    [
        ("dashboard: running jobs", lambda: counted(STARTED, ENDED)[0], "jobs"),
        ("dashboard: changed in the window", lambda: counted(STARTED, ENDED)[1], "jobs"),
        ("dashboard: window without an end", lambda: counted(STARTED, None)[1], "jobs"),
        ("running jobs page", running_per_type, "jobs"),
        ("queued jobs page", queued_per_type, "jobs"),
        ("metrics plot", lambda: hourly_statement(STARTED, ENDED, None), "job_type_metrics"),
        ("metrics plot of chosen types", lambda: hourly_statement(STARTED, ENDED, [1, 2]), "job_type_metrics"),
    ],
)
def test_each_read_uses_an_index(stores, name, statement, table):
    text = plan(stores.db.engine, statement())
    assert uses_an_index(text, table), f"{name}:\n{text}"
