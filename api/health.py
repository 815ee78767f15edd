"""Liveness and readiness probes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import falcon

from api.auth import Access
from api.routing import Operation, json_response
from core import metrics
from core.metrics import Backlog
from core.times import format_ns
from ingest.shipper import Shipper

STATUS = {"type": "object"}
# Readiness stays 200 past these, with status "degraded" and the reason: slow is not down.
SLOW_ELASTICSEARCH_SECONDS = 1.0
SPOOL_LAG_SECONDS = 30.0


class Liveness:
    access = Access.PUBLIC
    operations = {"GET": Operation("The process answers", responses={200: json_response(STATUS)})}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Readiness:
    """503 ("unavailable") when the database or Elasticsearch (when the app has log services) does not answer;
    otherwise 200, "ok" or "degraded" with the reasons (Elasticsearch slow to answer, log lines waiting in the
    spool, the shipper retrying). The body names Elasticsearch's version and shows the spool backlog.

    Probes need no credential: the status code and `status` are for anyone. The rest (the cluster's name and
    version, the shipper's last failure, the backlog) is for those who may read: anyone while reads are public,
    only a credential's holder once READ_TOKEN is set."""

    access = Access.OPEN  # identifies a credential when one is sent (for the details), refuses no one
    operations = {
        "GET": Operation(
            "Database and Elasticsearch answer (status ok or degraded, with reasons)",
            responses={200: json_response(STATUS), 503: json_response(STATUS, "A dependency is down")},
        )
    }

    def __init__(
        self,
        database_check: Callable[[], None],
        cluster_info: Callable[[], dict[str, Any]] | None,
        shipper: Shipper | None = None,
        spool_backlog: Callable[[], Backlog] | None = None,
        details_need_credential: bool = False,
    ):
        self._details_need_credential = details_need_credential
        self._database_check = database_check
        self._cluster_info = cluster_info
        self._shipper = shipper
        self._spool_backlog = spool_backlog

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        body: dict = {"status": "ok"}
        down: list[str] = []
        slow: list[str] = []
        try:
            self._database_check()
            body["database"] = "ok"
        except Exception as exc:  # any failure means "not ready"; its type is enough to report
            metrics.DATABASE_ERRORS.labels("readiness").inc()
            body["database"] = f"unavailable: {type(exc).__name__}"
            down.append("the database does not answer")
        if self._cluster_info is not None:
            started = time.monotonic()
            try:
                info = self._cluster_info()
                took = time.monotonic() - started
                body["elasticsearch"] = {**info, "took_seconds": round(took, 3)}
                if took > SLOW_ELASTICSEARCH_SECONDS:
                    slow.append(f"Elasticsearch took {took:.1f} s to answer")
            except Exception as exc:
                metrics.ELASTICSEARCH_ERRORS.labels("readiness").inc()
                body["elasticsearch"] = f"unavailable: {type(exc).__name__}"
                down.append("Elasticsearch does not answer")
        if self._shipper is not None and self._spool_backlog is not None:
            slow += self._log_pipeline(body, self._shipper, self._spool_backlog())
        body["status"] = "unavailable" if down else "degraded" if slow else "ok"
        body["reasons"] = down + slow
        if self._details_need_credential and req.context.identity is None:
            body = {"status": body["status"]}
        resp.media = body
        if down:
            metrics.HTTP_UNAVAILABLE.labels("readiness").inc()
            resp.status = falcon.HTTP_503

    @staticmethod
    def _log_pipeline(body: dict, shipper: Shipper, backlog: Backlog) -> list[str]:
        age = backlog.age()
        body["spool"] = {"lines": backlog.lines, "bytes": backlog.bytes, "oldest_age_seconds": round(age, 3)}
        failed_at = shipper.last_failure_at
        body["shipper"] = {
            "last_failure": shipper.last_failure_reason,
            "last_failure_at": format_ns(int(failed_at * 1e9)) if failed_at is not None else None,
            "retrying": shipper.failing,
        }
        reasons = []
        if backlog.lines and age > SPOOL_LAG_SECONDS:
            reasons.append(f"{backlog.lines} log lines wait in the spool, the oldest for {age:.0f} s")
        if shipper.failing:
            reasons.append(f"the log shipper is retrying ({shipper.last_failure_reason}); accepted lines stay spooled")
        return reasons
