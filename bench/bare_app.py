"""The raw side of the throughput measure: a bare WSGI app doing the same work as our two routes with nothing
around it, served by the same gunicorn configuration (`gunicorn -c gunicorn.conf.py bench.bare_app:app`).

- /job/{id}: one SQLAlchemy Core SELECT of the job joined to its type, and its latest execution; orjson.
- /logs/{cluster_id}: the first 1,000 lines from Elasticsearch; orjson of the hits' sources.

Environment: DATABASE_URL, ELASTICSEARCH_URL (and the other ELASTICSEARCH_* variables, as the API reads them),
BENCH_INDEX (index pattern of the lines).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy import select

from core.elastic import elasticsearch_client
from jobs.db import make_engine
from jobs.models import Job, JobExecution, JobType
from settings import Settings

_engine = make_engine(os.environ["DATABASE_URL"])
# The service's client factory, so the bare app connects exactly as the API does (credentials, TLS, nodes).
_es = elasticsearch_client(replace(Settings.from_env(), elasticsearch_timeout=30))
_index = os.environ["BENCH_INDEX"]
_jobs = Job.__table__
_types = JobType.__table__
_exes = JobExecution.__table__
_SORT: list[Any] = [
    {"@timestamp": {"order": "asc", "numeric_type": "date_nanos"}},
    {"scale_order_num": "asc"},
    {"_index": "asc"},
    {"_seq_no": "asc"},
]


def _job(job_id: int) -> bytes | None:
    with _engine.connect() as c:
        job = (
            c.execute(
                select(_jobs, _types.c.name, _types.c.version)
                .join(_types, _types.c.id == _jobs.c.job_type_id)
                .where(_jobs.c.id == job_id)
            )
            .mappings()
            .first()
        )
        if job is None:
            return None
        exe = (
            c.execute(select(_exes).where(_exes.c.job_id == job_id).order_by(_exes.c.exe_num.desc()).limit(1))
            .mappings()
            .first()
        )
    return orjson.dumps({**job, "execution": dict(exe) if exe else None}, default=str)


def _logs(cluster_id: str) -> bytes:
    resp = _es.search(
        index=_index,
        query={"bool": {"filter": [{"term": {"scale_job_exe": cluster_id}}]}},
        sort=_SORT,
        size=1000,
        track_total_hits=False,
        filter_path=["hits.hits._source"],
    )
    return orjson.dumps([h["_source"] for h in resp["hits"]["hits"]])


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    body = None
    if path.startswith("/job/"):
        body = _job(int(path[5:]))
    elif path.startswith("/logs/"):
        body = _logs(path[6:])
    elif path == "/healthz":
        body = b"{}"
    if body is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
