"""The reads behind Scale's UI pages have an index to use: the database's own plan of each statement (SQLite's
EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with sequential scans priced out, since on a small table it would rightly
prefer one) reads jobs and job_type_metrics through an index, never by scanning the whole table."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from jobs.file_store import ordered_ids
from jobs.records import FileQuery, OrderKey
from jobs.scaleui.job_type_status_store import counted, queued_per_type, running_per_type
from jobs.scaleui.metrics_store import hourly_statement

STARTED = datetime(2020, 1, 1, tzinfo=UTC)
ENDED = datetime(2020, 1, 2, tzinfo=UTC)


def plan(engine, statement, priced_out: tuple[str, ...] = ("seqscan",)) -> str:
    with engine.connect() as c:
        compiled = statement.compile(dialect=c.dialect, compile_kwargs={"render_postcompile": True})
        if c.dialect.name == "postgresql":
            for plan_kind in priced_out:
                c.exec_driver_sql(f"SET enable_{plan_kind} = off")
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


@pytest.mark.parametrize(
    "name, query",
    [
        ("files page: default order", FileQuery()),
        ("files page: newest first", FileQuery(order=(OrderKey("last_modified", True),))),
        ("files page: by id", FileQuery(order=(OrderKey("id", True),))),
        ("job page: its outputs", FileQuery(job_ids=[1])),
    ],
)
def test_file_lists_in_an_order_an_index_serves_sort_nothing(stores, name, query):
    """The orders /v6/files/ allows on long lists for clients who aren't staff (jobs.file_store.FILE_INDEXED_ORDERS)
    come from an index or the table's own id order: no sort of every matching file (only the few files of one
    timestamp are put in id order: SQLite's "TEMP B-TREE FOR RIGHT PART OF ORDER BY", PostgreSQL's Incremental
    Sort). PostgreSQL prices sorts out too: on a tiny table it would rightly prefer one, so a full Sort left in
    the plan means no index can give the order."""
    text = plan(stores.db.engine, ordered_ids(query), ("seqscan", "sort"))
    assert "TEMP B-TREE FOR ORDER BY" not in text, f"{name}:\n{text}"
    assert not re.search(r"^\s*(->\s*)?Sort\s+\(", text, re.MULTILINE), f"{name}:\n{text}"  # a full sort node
