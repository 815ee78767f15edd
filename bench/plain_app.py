"""The plain side of the throughput measure: the same database and Elasticsearch requests as ours, sent by the
bare drivers (sqlite3 or psycopg, and the Elasticsearch client's transport), answered with `json.dumps` of what
came back; none of our code runs while it serves (audit 2, M2).

How it knows the requests: when each gunicorn worker starts, it runs our stores and LogSearch once for every path
of PLAIN_APP_PATHS (a file, one path per line: the paths the load will ask), recording the SQL statements with
their parameters (SQLAlchemy's before_cursor_execute) and the HTTP requests to Elasticsearch (the transport's
perform_request). A request for a path then replays exactly those statements and requests, in order.

What it leaves out, beside everything bench/bare_app.py leaves out: the ORM and SQLAlchemy Core, our result
types, the windowing logic (its requests are replayed as they were made, not re-decided), Scale's JSON shapes
and our JSON writer. So ours / plain is the cost of our whole stack over the database and Elasticsearch work.

Environment: as bench/bare_app.py, plus PLAIN_APP_PATHS.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, make_url

from core.elastic import elasticsearch_client
from core.times import utcnow
from jobs.records import JobQuery
from jobs.stores import Stores
from search import LogSearch, Window
from settings import Settings

_settings = Settings.from_env()
_es = elasticsearch_client(_settings)
_JOBS = "/v6/jobs/"
_EXES = "/v6/job-executions/"
_LOGS = "/logs/combined/"


class Recorded:
    """What one path asked of the database and of Elasticsearch, in order."""

    def __init__(self) -> None:
        self.sql: list[tuple[str, Any]] = []
        self.es: list[tuple[str, str, Any, Any]] = []


def _record(paths: list[str]) -> dict[str, Recorded]:
    """Run our reads once per path, keeping what they sent (our code runs only here, before serving)."""
    stores = Stores.open(_settings.database_url, utcnow)
    search = LogSearch(_es, _settings.log_read_indices)
    current: list[Recorded] = []

    @event.listens_for(stores.db.engine, "before_cursor_execute")
    def _sql(conn, cursor, statement, parameters, context, executemany) -> None:
        if current:
            current[0].sql.append((statement, parameters))

    transport = _es.transport
    send = transport.perform_request

    def _request(method: str, target: str, *, body: Any = None, headers: Any = None, **kw: Any) -> Any:
        if current:
            current[0].es.append((method, target, body, headers))
        return send(method, target, body=body, headers=headers, **kw)

    transport.perform_request = _request  # type: ignore[method-assign]
    out: dict[str, Recorded] = {}
    try:
        for path in paths:
            current[:] = [Recorded()]
            _ours(stores, search, path)
            out[path] = current[0]
    finally:
        transport.perform_request = send  # type: ignore[method-assign]
        current.clear()
    return out


def _ours(stores: Stores, search: LogSearch, path: str) -> None:
    """The reads our routes make for path (bench/bare_app.py's three; the serializers read nothing more)."""
    route = path.split("?")[0]
    if route.startswith(_EXES) and route.endswith(_LOGS):
        target = stores.log_targets.execution_for_logs(int(route[len(_EXES) : -len(_LOGS)]))
        if target is not None:
            search.page(target.cluster_id, Window(), None, 1000)
    elif path.startswith(_JOBS + "?page_size="):
        stores.jobs.list_jobs(JobQuery(), 0, int(path.split("=")[1]))
    else:
        stores.jobs.get_job(int(path[len(_JOBS) : -1]))


_local = threading.local()


def _cursor():
    """This thread's plain database connection (one per gunicorn thread, as a pool would hand out)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        url = make_url(_settings.database_url)
        if url.get_backend_name() == "sqlite":
            conn = sqlite3.connect(url.database or ":memory:", check_same_thread=False)
        else:
            conn = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
            conn.autocommit = True
        _local.conn = conn
    return conn.cursor()


def _answer(rec: Recorded) -> bytes:
    rows = []
    cursor = _cursor()
    for statement, parameters in rec.sql:
        cursor.execute(statement, parameters)
        rows.append(cursor.fetchall() if cursor.description else [])
    hits = []
    for method, target, body, headers in rec.es:
        resp = _es.transport.perform_request(method, target, body=body, headers=headers)
        hits.append([h["_source"] for h in resp.body.get("hits", {}).get("hits", [])])
    return json.dumps({"sql": rows, "es": hits}, default=str).encode()


_paths = [p for p in Path(os.environ["PLAIN_APP_PATHS"]).read_text().splitlines() if p]
_recorded = _record(_paths)


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    rec = _recorded.get(path + ("?" + query if query else ""))
    if path == "/healthz":
        answer: bytes | None = b"{}"
    else:
        answer = None if rec is None else _answer(rec)
    if answer is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]
