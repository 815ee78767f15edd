"""Errors as Scale's clients expect them: a JSON object {"detail": "<message>"}, never a stack trace."""
from __future__ import annotations

import logging
from typing import Callable

import falcon

log = logging.getLogger(__name__)

NOT_FOUND = "Not found."


def bad_request(detail: str) -> falcon.HTTPError:
    return falcon.HTTPBadRequest(description=detail)


def not_found(detail: str = NOT_FOUND) -> falcon.HTTPError:
    return falcon.HTTPNotFound(description=detail)


def conflict(detail: str) -> falcon.HTTPError:
    return falcon.HTTPConflict(description=detail)


def unavailable(detail: str) -> falcon.HTTPError:
    return falcon.HTTPServiceUnavailable(description=detail)


def serialize_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    """Every error body is {"detail": ...}; the description wins over Falcon's generic title."""
    detail = error.description
    if detail is None:
        detail = NOT_FOUND if error.status_code == 404 else error.title
    resp.content_type = falcon.MEDIA_JSON
    resp.media = {"detail": detail}
    if error.status_code == 405:
        resp.media = {"detail": f'Method "{req.method}" not allowed.'}


def unexpected_error_handler(database_unavailable: Callable[[BaseException], bool]):
    """Last resort: a database outage is a 503; anything else is logged and answered 500 with nothing
    internal in the body."""

    def handle(req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict) -> None:
        if isinstance(ex, falcon.HTTPError):
            raise ex
        if database_unavailable(ex):
            log.warning("database unavailable on %s %s: %s", req.method, req.path, type(ex).__name__)
            raise unavailable("The database is unavailable.")
        log.exception("unhandled error on %s %s", req.method, req.path)
        raise falcon.HTTPInternalServerError(description="Internal server error.")

    return handle
