"""The executor's side of the service (issue 23): what the local worker and the Kubernetes engine ask of it, over
HTTP with an executor token, so that an executor host holds no database credential. The same methods as
jobs.execution_store.ExecutionStore's that they call, so either can be given to them (tests give the store).

The token (EXECUTOR_TOKEN_FILE, read once by settings.py) is kept out of every log line, error and repr. A
connection that can't be made and a 503 are retried with exponential backoff (the API restarting, a load balancer
between pods); other answers are final: 409 is JobStateConflict, 400 Invalid, 404 NotFound (jobs.errors, as the store
raises them), 403 Refused, anything else ExecutorError."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from jobs.errors import Invalid, JobStateConflict, NotFound
from jobs.records import ClaimedExecution, OutputFile

log = logging.getLogger("worker")
JOB_STATUS_HEADER = "X-Job-Status"  # api/jobs/job_execution_routes.py: the job's status after a finish


class Executions(Protocol):
    """What the worker and the Kubernetes engine need of executions: this client, or (tests, the service's own
    processes) jobs.execution_store.ExecutionStore, which has the same methods."""

    def claim_next_queued(self, node: str, lease_seconds: float | None = None) -> ClaimedExecution | None: ...
    def renew_lease(self, exe_id: int, seconds: float) -> bool: ...
    def renew_leases(self, exe_ids: Sequence[int], seconds: float) -> set[int]: ...
    def finish_execution(
        self, exe_id: int, status: str, *, error: dict | None = None, files: Sequence[OutputFile] = ()
    ) -> str: ...
    def fail_stale_running(self, node: str) -> int: ...
    def running_on(self, node: str) -> list[int]: ...
    def move_to_node(self, exe_id: int, node: str) -> bool: ...


class ExecutorError(Exception):
    """The service answered something the executor can't act on (str: the status and its detail)."""


class Refused(ExecutorError, PermissionError):
    """403: the token may not do this (another node's execution, or not an executor's call)."""


class ExecutorClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        node: str,
        *,
        timeout: float = 30.0,
        retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
    ):
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
        )
        self.node = node  # the node it acts for: leases are renewed under its name
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff

    def __repr__(self) -> str:  # never the token
        return f"ExecutorClient({self._http.base_url}, node={self.node!r})"

    def close(self) -> None:
        self._http.close()

    # --- what the worker and the Kubernetes engine call (the names and answers of ExecutionStore's methods)

    def claim_next_queued(self, node: str, lease_seconds: float | None = None) -> ClaimedExecution | None:
        body = {"lease_seconds": max(1, round(lease_seconds or 60))}
        resp = self._call("POST", f"/v6/executors/{_seg(node)}/claim/", body)
        if resp.status_code == 204:
            return None
        return claimed_of(resp.json())

    def renew_leases(self, exe_ids: Sequence[int], seconds: float) -> set[int]:
        if not exe_ids:
            return set()
        body = {"executions": list(exe_ids), "lease_seconds": max(1, round(seconds))}
        return set(self._call("POST", f"/v6/executors/{_seg(self.node)}/leases/", body).json()["ended"])

    def renew_lease(self, exe_id: int, seconds: float) -> bool:
        return exe_id not in self.renew_leases([exe_id], seconds)

    def finish_execution(
        self, exe_id: int, status: str, *, error: dict | None = None, files: Sequence[OutputFile] = ()
    ) -> str:
        body: dict[str, Any] = {"status": status}
        if error is not None:
            body["error"] = error
        if files:
            body["files"] = [_file_json(f) for f in files]
        resp = self._call("PATCH", f"/v6/job-executions/{exe_id}/", body)
        return resp.headers.get(JOB_STATUS_HEADER) or resp.json().get("status") or status

    def fail_stale_running(self, node: str) -> int:
        return int(self._call("POST", f"/v6/executors/{_seg(node)}/running/").json()["failed"])

    def running_on(self, node: str) -> list[int]:
        return list(self._call("GET", f"/v6/executors/{_seg(node)}/running/").json()["running"])

    def move_to_node(self, exe_id: int, node: str) -> bool:
        return bool(self._call("PUT", f"/v6/job-executions/{exe_id}/node/", {"node": node}).json()["moved"])

    # --- HTTP

    def _call(self, method: str, path: str, body: dict | None = None) -> httpx.Response:
        delay = self._backoff
        for attempt in range(self._retries + 1):
            try:
                resp = self._http.request(method, path, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing reached the service: safe again
                if attempt == self._retries:
                    raise ExecutorError(f"{method} {path}: the service is unreachable: {exc}") from None
                log.warning("%s %s: the service is unreachable (%s); retrying in %.1f s", method, path, exc, delay)
            else:
                if resp.status_code != 503 or attempt == self._retries:
                    _raise_for(method, path, resp)
                    return resp
                log.warning("%s %s: 503; retrying in %.1f s", method, path, delay)
            time.sleep(delay)  # backoff between attempts (not a wait for a condition)
            delay = min(delay * 2, self._max_backoff)
        raise AssertionError("unreachable")


def _seg(node: str) -> str:
    """A node name as one path segment."""
    return quote(node, safe="")


def _detail(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("detail") or resp.reason_phrase)
    except ValueError:
        return resp.reason_phrase


def _raise_for(method: str, path: str, resp: httpx.Response) -> None:
    code = resp.status_code
    if code < 300:
        return
    detail = _detail(resp)
    if code == 409:
        raise JobStateConflict(detail)
    if code == 400:
        raise Invalid(detail)
    if code == 404:
        raise NotFound(detail)
    if code in (401, 403):
        raise Refused(f"{method} {path}: {code} {detail}")
    raise ExecutorError(f"{method} {path}: {code} {detail}")


def claimed_of(d: dict) -> ClaimedExecution:
    """The claim route's answer (api/jobs/executor_schemas.claimed_json: the record's fields)."""
    return ClaimedExecution(**{**d, "started": datetime.fromisoformat(d["started"])})


def _file_json(f: OutputFile) -> dict:
    out = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(f).items()}
    return {k: v for k, v in out.items() if v is not None}
