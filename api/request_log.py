"""Every request, on its way in and out: its id, one log line, and the request metrics.

The id is the client's X-Request-ID when it is a plausible one (so a proxy's id follows the request), else a
new one; it is echoed in the X-Request-ID response header and put in error bodies (api.errors), so a user can
quote it. The log line names the route template, never the query string or a header: no token, password or
cookie can reach the log through it.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid

import falcon

from api.routing import openapi_path
from core import metrics

log = logging.getLogger("api.requests")

HEADER = "X-Request-ID"
PLAUSIBLE_ID = re.compile(r"[A-Za-z0-9._~:+/=@-]{1,128}")
# Other methods are counted as "other": a label value per invented method would grow without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no route: 404s, redirects and answers given before routing


@functools.cache
def route_label(uri_template: str | None) -> str:
    """The route as the OpenAPI document names it (no converters): /v6/jobs/{job_id}/."""
    return openapi_path(uri_template) if uri_template else UNMATCHED


class RequestTracking:
    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = req.get_header(HEADER)
        req.context.request_id = given if given and PLAUSIBLE_ID.fullmatch(given) else uuid.uuid4().hex
        req.context.started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        request_id = getattr(req.context, "request_id", None) or uuid.uuid4().hex
        resp.set_header(HEADER, request_id)
        seconds = time.perf_counter() - getattr(req.context, "started", time.perf_counter())
        method = req.method if req.method in METHODS else "other"
        route = route_label(req.uri_template)
        status = resp.status_code
        metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
        metrics.HTTP_LATENCY.labels(method, route).observe(seconds)
        user = getattr(req.context, "user", None)
        log.info(
            "%s %s %s %.1f ms",
            method,
            route,
            status,
            seconds * 1000,
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "path": getattr(req.context, "original_path", req.path),
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "user": user if isinstance(user, str) else None,
            },
        )
