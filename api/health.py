"""Liveness and readiness probes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon

from api.auth import Access
from api.routing import Operation, json_response

STATUS = {"type": "object"}


class Liveness:
    access = Access.PUBLIC
    operations = {"GET": Operation("The process answers", responses={200: json_response(STATUS)})}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Readiness:
    """200 when the database and Elasticsearch (when the app has log services) answer; the body names
    Elasticsearch's version."""

    access = Access.PUBLIC
    operations = {
        "GET": Operation(
            "Database and Elasticsearch answer",
            responses={200: json_response(STATUS), 503: json_response(STATUS, "A dependency is down")},
        )
    }

    def __init__(self, database_check: Callable[[], None], cluster_info: Callable[[], dict[str, Any]] | None):
        self._database_check = database_check
        self._cluster_info = cluster_info

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        body: dict = {"status": "ok"}
        try:
            self._database_check()
            body["database"] = "ok"
        except Exception as exc:  # any failure means "not ready"; its type is enough to report
            body["database"] = f"unavailable: {type(exc).__name__}"
            body["status"] = "unavailable"
        if self._cluster_info is not None:
            try:
                body["elasticsearch"] = self._cluster_info()
            except Exception as exc:
                body["elasticsearch"] = f"unavailable: {type(exc).__name__}"
                body["status"] = "unavailable"
        resp.media = body
        if body["status"] != "ok":
            resp.status = falcon.HTTP_503
