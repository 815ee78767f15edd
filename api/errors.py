"""Errors as Scale's clients expect them: a JSON object {"detail": "<message>"}, never a stack trace, plus the
request's id ("request_id"), so a user can quote it.

Resources raise the HTTP errors of their own parameters; what the stores, the search and the log pipeline
raise becomes HTTP here, in one table (add_error_handlers), so no call site maps errors again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import falcon

from core import metrics
from ingest.receive import BadLine, Refused, SpoolFailed
from jobs.db import DatabaseError, is_unavailable
from jobs.errors import Forbidden, Invalid, JobStateConflict, LoginRefused, LoginThrottled, NotFound
from search.errors import AnchorNotFound, CursorExpired, LogsExpired, LogsUnavailable, SearchRefused

log = logging.getLogger(__name__)

NOT_FOUND = "Not found."


def bad_request(detail: str) -> falcon.HTTPError:
    return falcon.HTTPBadRequest(description=detail)


def not_found(detail: str = NOT_FOUND) -> falcon.HTTPError:
    return falcon.HTTPNotFound(description=detail)


def unavailable(detail: str) -> falcon.HTTPError:
    return falcon.HTTPServiceUnavailable(description=detail)


def serialize_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """Every error body is {"detail": ..., "request_id": ...}; the description wins over Falcon's generic title."""
    detail = error.description
    if detail is None:
        detail = NOT_FOUND if error.status_code == 404 else error.title
    if error.status_code == 405:
        detail = f'Method "{req.method}" not allowed.'
    resp.content_type = falcon.MEDIA_JSON
    # Set by api.request_log.RequestTracking, the first middleware, before anything can fail.
    resp.media = {"detail": detail, "request_id": getattr(req.context, "request_id", None)}


def _spool_failed(exc: SpoolFailed) -> falcon.HTTPError:
    if exc.out_of_space:
        return falcon.HTTPInsufficientStorage(description="No disk space is left to store log lines. Retry later.")
    return unavailable("Log lines cannot be stored right now (a disk error). Retry later.")


def _database(exc: DatabaseError) -> falcon.HTTPError:
    metrics.DATABASE_ERRORS.labels("api").inc()
    if is_unavailable(exc):
        return unavailable("The database is unavailable.")
    raise exc  # not an outage: a bug, answered by the last resort below


# Domain error -> the HTTP error it becomes. Falcon picks the handler of the most specific class.
HTTP_ERROR_OF: dict[type[Exception], Callable[[Any], falcon.HTTPError]] = {
    Invalid: lambda exc: bad_request(str(exc)),
    NotFound: lambda exc: not_found(),
    Forbidden: lambda exc: falcon.HTTPForbidden(description=str(exc)),
    JobStateConflict: lambda exc: falcon.HTTPConflict(description=str(exc)),
    # One answer for an unknown user, a disabled one and a wrong password (Django REST framework's words).
    LoginRefused: lambda exc: falcon.HTTPUnauthorized(description="Invalid username/password.", challenges=["Bearer"]),
    LoginThrottled: lambda exc: falcon.HTTPTooManyRequests(
        description=f"Too many failed logins. Try again in {exc.retry_after} seconds.", retry_after=exc.retry_after
    ),
    SearchRefused: lambda exc: bad_request(str(exc)),
    AnchorNotFound: lambda exc: not_found(str(exc)),
    CursorExpired: lambda exc: falcon.HTTPGone(description=str(exc)),
    LogsUnavailable: lambda exc: unavailable(exc.detail),
    LogsExpired: lambda exc: falcon.HTTPGone(description=exc.detail),
    BadLine: lambda exc: (falcon.HTTPContentTooLarge if exc.too_large else falcon.HTTPBadRequest)(description=str(exc)),
    Refused: lambda exc: bad_request(str(exc)),
    SpoolFailed: _spool_failed,
    DatabaseError: _database,
}
# What a 503 caused by each domain error says was unavailable (the scale_http_unavailable_total label).
UNAVAILABLE_REASON: dict[type[Exception], str] = {
    LogsUnavailable: "elasticsearch",
    SpoolFailed: "spool",
    DatabaseError: "database",
}


def add_error_handlers(app: falcon.App) -> None:
    app.set_error_serializer(serialize_error)
    app.add_error_handler(Exception, _unexpected)
    for kind, http_error in HTTP_ERROR_OF.items():
        app.add_error_handler(kind, _raising(http_error))


def _raising(http_error: Callable[[Any], falcon.HTTPError]):
    def handle(req: falcon.Request, resp: falcon.Response, exc: Exception, params: dict) -> None:
        try:
            error = http_error(exc)
        except Exception as unexpected:  # the mapping declined it: the last resort answers
            _unexpected(req, resp, unexpected, params)
            return
        if error.status_code == 503:
            log.warning("%s %s: %s", req.method, req.path, type(exc).__name__)
            reason = next((r for kind, r in UNAVAILABLE_REASON.items() if isinstance(exc, kind)), "other")
            metrics.HTTP_UNAVAILABLE.labels(reason).inc()
        raise error from None

    return handle


def _unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params: dict) -> None:
    """Last resort: logged with its stack, answered 500 with nothing internal in the body."""
    log.error("unhandled error on %s %s", req.method, req.path, exc_info=exc)
    raise falcon.HTTPInternalServerError(description="Internal server error.")
