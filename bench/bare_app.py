"""The raw side of the throughput measure: a bare WSGI app doing the same work as three of our routes, with
nothing around it, served by the same gunicorn configuration (`gunicorn -c gunicorn.conf.py bench.bare_app:app`).

The same work: the same database and Elasticsearch, the same reads (the stores' and LogSearch's methods ours
calls) and the same serialization contract (the same serializers and JSON writer, api.app.write_json), so the
body is ours' body (checked before every load: equal to ours byte for byte, but for the page links' host and
the log body's `took`).
What it leaves out is what ours does around the work: Falcon (routing, request and response objects), the
middleware chain (request id, metrics, the JSON request log line, authentication: who is asking, with a
personal-token or session lookup when one is sent), parameter parsing and validation, content negotiation.

- GET /v6/jobs/{id}/: JobStore.get_job, api.jobs.job_serialize.job_details.
- GET /v6/jobs/?page_size=100: JobStore.list_jobs (no filter, page 1), job_item, the v6 envelope.
- GET /v6/job-executions/{id}/logs/combined/?limit=1000: LogTargetStore.execution_for_logs, LogSearch.page,
  search.render's JSON body (Scale's search response).

Environment: DATABASE_URL, ELASTICSEARCH_URL (and the other ELASTICSEARCH_* variables), LOG_INDEX_PREFIX,
LOG_LEGACY_INDICES, as the API reads them.
"""

from __future__ import annotations

from api.app import write_json
from api.jobs.job_serialize import job_details, job_item
from core.elastic import elasticsearch_client
from core.times import utcnow
from jobs.records import JobQuery
from jobs.stores import Stores
from search import LogSearch, Window
from search.render import CONTENT_TYPES, Format, body
from settings import Settings

_settings = Settings.from_env()
_stores = Stores.open(_settings.database_url, utcnow)
_search = LogSearch(elasticsearch_client(_settings), _settings.log_read_indices)
_JOBS = "/v6/jobs/"
_EXES = "/v6/job-executions/"
_LOGS = "/logs/combined/"
_ALL_JOBS = JobQuery()
JSON = "application/json"


def _job(job_id: int) -> bytes | None:
    detail = _stores.jobs.get_job(job_id)
    return None if detail is None else write_json(job_details(detail))


def _jobs(host: str, size: int) -> bytes:
    count, jobs = _stores.jobs.list_jobs(_ALL_JOBS, 0, size)
    more = f"http://{host}{_JOBS}?page=2&page_size={size}" if count > size else None
    results = [job_item(row, files) for row, files in jobs]
    return write_json({"count": count, "next": more, "previous": None, "results": results})


def _log_page(exe_id: int, limit: int) -> bytes | None:
    target = _stores.log_targets.execution_for_logs(exe_id)
    if target is None:
        return None
    lines, _more = _search.page(target.cluster_id, Window(), None, limit)
    return b"".join(body(Format("json"), lines))


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    answer: bytes | None = None
    if path.startswith(_EXES) and path.endswith(_LOGS) and query.startswith("limit="):
        answer = _log_page(int(path[len(_EXES) : -len(_LOGS)]), int(query[len("limit=") :]))
    elif path == _JOBS and query.startswith("page_size="):
        answer = _jobs(environ.get("HTTP_HOST", ""), int(query[len("page_size=") :]))
    elif path.startswith(_JOBS) and path.endswith("/") and path[len(_JOBS) : -1].isdigit():
        answer = _job(int(path[len(_JOBS) : -1]))
    elif path == "/healthz":
        answer = b"{}"
    if answer is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    content_type = CONTENT_TYPES["json"] if path.endswith(_LOGS) else JSON
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(answer)))])
    return [answer]
