"""The forwarder: what an executor host (the local worker, the Kubernetes node agent) ships its captured lines with
when it holds an executor token instead of an Elasticsearch credential. A drop-in for the Shipper as Capture, the
node agent and the worker use it: the same durable spool (records in the Shipper's own format, so either can drain
what the other left), emptied by one background thread that POSTs each batch as NDJSON to the API's
`/v6/job-executions/{id}/logs/` with `Authorization: Bearer <executor token>`.

Never a lost or a duplicated line:
- A batch leaves the spool only once the API answered 2xx for every line of it (or refused a line for good).
- Every line is sent with its `scale_order_num` and `@timestamp`, from which the API makes the document's _id and
  index (ingest.documents): a batch sent again after a lost answer is answered 409 by Elasticsearch, not stored
  twice.
- No answer, 408, 429 and 5xx (503: the database or the API's spool; 507: the API's disk is full) are retried with
  capped exponential backoff and jitter, or after the answer's Retry-After when that is longer.
- 401/403 (the token is unknown, revoked, of another scope or bound to another node): a configuration to fix, not
  bad data. Logged (never the token), counted, and the batch is set aside: tried again `refused_retries` times,
  `refused_retry_seconds` apart (an execution's node may be set a moment after its pod started writing, as the
  Kubernetes engine does), then kept in the spool and not retried by this process: a restart with the right
  token sends it. Meanwhile the other executions' lines go on.
- Any other 4xx is a permanent refusal, logged, counted in scale_log_forwarder_refused_lines_total and dropped:
  400/413 on a body of several lines is bisected first (the API refuses a whole body for one bad line), so only
  the lines it refuses alone are lost; 404 (no such execution) and 409 (its log closed LOG_GRACE_SECONDS after it
  ended) refuse what is left of that execution in the batch. A 404 or 405 from an address that is not the service
  (no /healthz of ours: a wrong host or path prefix) is a configuration error, retried, never a drop.

The execution's id comes from the lines' cluster id (scale_job_<job id>x<execution number>), looked up once with
GET /v6/jobs/{job}/executions/{num}/ (an executor token may read). The API stamps posted lines with the
execution's recorded node, so when the lines were captured on another node (a Kubernetes pod's, before the engine
recorded it) the forwarder records their node first (PUT /v6/job-executions/{id}/node/).
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import httpx
import orjson

from core import metrics
from ingest.log_writer import LogWriter, SpoolBatch

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 507})
REFUSED_CREDENTIALS = (401, 403)
BISECTED = (400, 413)  # the API refuses a whole body for one line: halve it to find that line
POSTED_FIELDS = ("message", "stream", "@timestamp", "scale_order_num", "scale_task")
CLUSTER_ID = re.compile(r"scale_job_(\d+)x(\d+)")
NDJSON = "application/x-ndjson"
MAX_RETRY_AFTER = 300.0  # a longer Retry-After is taken as this: a stop or a recovery should not wait hours


class Outcome(Enum):
    DONE = "done"  # every line acknowledged (or refused for good and dropped)
    RETRY = "retry"  # the API did not answer, or asked to come back later
    KEPT = "kept"  # the credential was refused: set aside, then left in the spool for the next process


@dataclass
class _Answer:
    outcome: Outcome
    retry_after: float | None = None
    status: int = 0  # of a refused credential
    detail: str = ""


class Forwarder(LogWriter):
    name = "log forwarder"

    def __init__(
        self,
        api_url: str,
        token: str,
        spool_dir: Path,
        *,
        prefix: str = "scalelogs",
        max_body_bytes: int = 4 * 1024 * 1024,
        max_body_lines: int = 5000,
        backoff: tuple[float, float] = (0.25, 15.0),
        orphan_scan_seconds: float = 30.0,
        request_timeout: float = 60.0,
        refused_retries: int = 3,
        refused_retry_seconds: float = 60.0,
    ):
        if not token:
            raise ValueError("an executor token is required")
        super().__init__(spool_dir, backoff=backoff, orphan_scan_seconds=orphan_scan_seconds)
        # The index prefix only shapes the spool's records (the Shipper's format); the API picks the index.
        self.prefix = prefix
        self.api_url = api_url.rstrip("/")
        self.max_body_bytes = max_body_bytes
        self.max_body_lines = max_body_lines
        self.refused_retries = refused_retries
        self.refused_retry_seconds = refused_retry_seconds
        # The token goes in a default header only: never in a URL, so no log line or exception text shows it.
        self._http = httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(request_timeout, connect=5.0),
        )
        # `duplicates` stays 0: the API's answer does not tell replays apart.
        self.kept_lines = 0  # lines left in the spool because the credential was refused
        self._executions: dict[str, int] = {}  # cluster id -> execution id
        self._nodes: dict[str, str] = {}  # cluster id -> the node the API has recorded for it, as last seen
        self._service_seen = False  # SCALE_API_URL answered /healthz as the service does
        # cluster id -> (until when, monotonic) the credential's refusal holds without asking the API again
        self._refused: dict[str, tuple[float, _Answer]] = {}
        self._set_aside: list[tuple[float, SpoolBatch]] = []  # (when to try again, batch) after a refusal
        self._refusals: dict[int, int] = {}  # id(batch) -> refusals so far
        self._begin()

    @property
    def pending_lines(self) -> int:
        with self._cond:
            waiting = list(self._pending) + [b for _, b in self._set_aside]
            return sum(len(b.ids) - b.stored - len(b.errors) for b in waiting) + self.kept_lines

    def close(self, timeout: float | None = 30.0) -> bool:
        """Forward what is pending (up to timeout), then stop; False when lines stay in the spool (unsent, or
        kept after a refused token)."""
        drained = super().close(timeout)
        self._http.close()
        return drained and not self.kept_lines and not self._set_aside

    # Sender side -----------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff[0]
        last_scan = time.monotonic()
        while True:
            if time.monotonic() - last_scan >= self.orphan_scan_seconds:
                last_scan = time.monotonic()
                self.adopt_orphans()
            with self._cond:
                self._take_back()
                while not self._pending and not self._abandon:
                    if not self._cond.wait(self._idle_wait()):
                        break
                if self._abandon:
                    return
                batch = self._pending[0] if self._pending else None
            if batch is None:
                continue
            try:
                answer = self._forward(batch)
            except Exception:  # a bug or an answer we can't read: the sender must not die with lines spooled
                log.exception("forwarding a batch of %d log lines failed; it stays spooled", len(batch.ids))
                answer = _Answer(Outcome.RETRY)
            if answer.outcome is Outcome.RETRY:
                self._failed_pass()
                # Jitter keeps several executors from hammering a recovering API in step.
                wait = max(delay * random.uniform(0.8, 1.2), min(answer.retry_after or 0.0, MAX_RETRY_AFTER))
                self._wake.wait(wait)
                self._wake.clear()
                delay = min(delay * 2, self.backoff[1])
                continue
            delay = self.backoff[0]
            self.failing = False
            with self._cond:
                self._unqueue([batch])
                if answer.outcome is Outcome.KEPT:
                    self._refused_batch(batch, answer)
                else:
                    self._refusals.pop(id(batch), None)
                    if batch.segment is not None:
                        self.spool.done(batch.segment)
                    batch.finished.set()
                self._cond.notify_all()

    def _refused_batch(self, batch: SpoolBatch, answer: _Answer) -> None:
        """Set the batch aside for another try, or after the last one keep it on disk: its segment is never marked
        done, so it stays for the next process (the caller holds _cond)."""
        refusals = self._refusals[id(batch)] = self._refusals.get(id(batch), 0) + 1
        lines = len(batch.ids) - batch.stored - len(batch.errors)
        if refusals == 1:
            metrics.FORWARDER_REFUSED.labels(str(answer.status), "kept").inc(lines)
        if refusals <= self.refused_retries:
            self._set_aside.append((time.monotonic() + self.refused_retry_seconds, batch))
            return
        del self._refusals[id(batch)]
        self.kept_lines += lines
        batch.finished.set()

    def _take_back(self) -> None:
        """Queue again the batches set aside whose time has come (the caller holds _cond)."""
        now = time.monotonic()
        due = [b for when, b in self._set_aside if when <= now]
        if due:
            self._set_aside = [(when, b) for when, b in self._set_aside if when > now]
            self._queue(due)

    def _idle_wait(self) -> float:
        if not self._set_aside:
            return self.orphan_scan_seconds
        return max(0.01, min(self.orphan_scan_seconds, min(w for w, _ in self._set_aside) - time.monotonic()))

    def _forward(self, batch: SpoolBatch) -> _Answer:
        """Send what the API has not acknowledged yet of the batch (from batch.stored on), one execution at a
        time, in bodies within max_body_bytes and max_body_lines."""
        lines = [orjson.loads(source) for _, source in batch.pairs]
        start = batch.stored + len(batch.errors)  # lines settled in an earlier pass of this process
        while start < len(lines):
            cluster_id = str(lines[start].get("scale_job_exe", ""))
            end = start
            while end < len(lines) and lines[end].get("scale_job_exe") == cluster_id:
                end += 1
            answer = self._forward_execution(batch, cluster_id, lines, start, end)
            if answer.outcome is not Outcome.DONE:
                return answer
            start = end
        return _Answer(Outcome.DONE)

    def _forward_execution(
        self, batch: SpoolBatch, cluster_id: str, lines: list[dict], start: int, end: int
    ) -> _Answer:
        until, refusal = self._refused.get(cluster_id, (0.0, None))
        if refusal is not None and time.monotonic() < until:  # refused a moment ago: set aside without asking
            return refusal
        exe_id, answer = self._execution_id(cluster_id)
        if answer.outcome is Outcome.KEPT:
            self._refused[cluster_id] = (time.monotonic() + self.refused_retry_seconds, answer)
            return answer
        if exe_id is None:
            if answer.outcome is Outcome.DONE:  # no such execution: nothing of it can ever be posted
                self._drop(batch, lines, start, end, 404, f"no execution {cluster_id!r} on the API")
            return answer
        answer = self._placed(cluster_id, exe_id, str(lines[start].get("scale_node") or ""))
        if answer.outcome is Outcome.KEPT:
            self._refused[cluster_id] = (time.monotonic() + self.refused_retry_seconds, answer)
        if answer.outcome is not Outcome.DONE:
            return answer
        bodies = [_posted(line) for line in lines[start:end]]
        at, limit = start, self.max_body_lines
        while at < end:
            cut = self._cut(bodies, at - start, min(limit, end - at)) + start
            response = self._post(f"/v6/job-executions/{exe_id}/logs/", b"".join(bodies[at - start : cut - start]))
            if isinstance(response, _Answer):
                return response
            status = response.status_code
            if 200 <= status < 300:
                accepted = cut - at
                batch.stored += accepted
                self.stored += accepted
                metrics.LINES_FORWARDED.inc(accepted)
                at = cut
            elif status in REFUSED_CREDENTIALS:
                refusal = self._refused_credential(response, f"the lines of execution {exe_id}")
                self._refused[cluster_id] = (time.monotonic() + self.refused_retry_seconds, refusal)
                return refusal
            elif status in BISECTED and cut - at > 1:
                limit = (cut - at) // 2  # kept small until the refused line is found and dropped
            elif status in RETRY_STATUSES:
                return self._retry(response)
            elif status in BISECTED:
                self._drop(batch, lines, at, cut, status, _detail(response))
                at, limit = cut, self.max_body_lines
            elif wrong_address := self._wrong_address(response):
                return wrong_address
            else:  # 404, 409 (the log is closed), ...: the same for every line of this execution
                self._drop(batch, lines, at, end, status, _detail(response))
                at = end
        return _Answer(Outcome.DONE)

    def _placed(self, cluster_id: str, exe_id: int, node: str) -> _Answer:
        """The node the lines were captured on, recorded as the execution's before they are posted: the API stamps
        each posted line with the execution's recorded node, and the Kubernetes engine records a pod's node only
        once its watch saw the pod, which may be after the node agent captured the container's first lines. (The
        local worker's lines carry the node it claimed the execution for: nothing to do.)"""
        if not node or self._nodes.get(cluster_id) == node:
            return _Answer(Outcome.DONE)
        response = self._request("PUT", f"/v6/job-executions/{exe_id}/node/", json={"node": node})
        if isinstance(response, _Answer):
            return response
        if response.status_code in REFUSED_CREDENTIALS:
            return self._refused_credential(response, f"the node of execution {exe_id}")
        if response.status_code in RETRY_STATUSES:
            return self._retry(response)
        self._nodes[cluster_id] = node  # recorded, or the execution no longer RUNNING: its lines go as recorded
        return _Answer(Outcome.DONE)

    def _cut(self, bodies: list[bytes], first: int, most: int) -> int:
        """End (exclusive) of the body starting at bodies[first]: at most `most` lines and max_body_bytes, and
        always at least one line."""
        size, end = 0, first
        while end < first + most and (end == first or size + len(bodies[end]) <= self.max_body_bytes):
            size += len(bodies[end])
            end += 1
        return end

    def _execution_id(self, cluster_id: str) -> tuple[int | None, _Answer]:
        if cluster_id in self._executions:
            return self._executions[cluster_id], _Answer(Outcome.DONE)
        m = CLUSTER_ID.fullmatch(cluster_id)
        if m is None:
            return None, _Answer(Outcome.DONE)
        response = self._request("GET", f"/v6/jobs/{m[1]}/executions/{m[2]}/")
        if isinstance(response, _Answer):
            return None, response
        if response.status_code == 200:
            execution = response.json()
            self._executions[cluster_id] = int(execution["id"])  # unreadable: _run retries the batch
            self._nodes[cluster_id] = (execution.get("node") or {}).get("hostname") or ""
            return self._executions[cluster_id], _Answer(Outcome.DONE)
        if response.status_code in REFUSED_CREDENTIALS:
            return None, self._refused_credential(response, f"the execution of {cluster_id}")
        if response.status_code in RETRY_STATUSES:
            return None, self._retry(response)
        wrong_address = self._wrong_address(response)
        return None, wrong_address or _Answer(Outcome.DONE)

    def _wrong_address(self, response: httpx.Response) -> _Answer | None:
        """For a 404 or 405: RETRY when SCALE_API_URL is not the service (a wrong host or path prefix answers 404
        to everything, which must not drop every line as "no such execution"); its /healthz is asked once."""
        if response.status_code not in (404, 405) or self._service_seen:
            return None
        probe = self._request("GET", "/healthz")
        if isinstance(probe, _Answer):
            return probe
        try:
            self._service_seen = probe.status_code == 200 and probe.json().get("status") == "ok"
        except ValueError:
            pass
        if self._service_seen:
            return None
        self._note_failure(f"{response.status_code} from {self.api_url}, not the service", "HTTP 404")
        log.error(
            "SCALE_API_URL %s answers %s and no /healthz of the service: a wrong address or path prefix? The lines "
            "stay spooled",
            self.api_url,
            response.status_code,
        )
        return _Answer(Outcome.RETRY)

    def _post(self, path: str, body: bytes) -> httpx.Response | _Answer:
        return self._request("POST", path, content=body, headers={"Content-Type": NDJSON})

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response | _Answer:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # refused, reset, timed out: the API may have stored it, or not
            self._note_failure(f"{type(exc).__name__}: {exc}", type(exc).__name__)
            log.warning("the API at %s did not answer (%s): lines stay spooled", self.api_url, self.last_failure)
            return _Answer(Outcome.RETRY)

    def _retry(self, response: httpx.Response) -> _Answer:
        self._note_failure(f"{response.status_code}: {_detail(response)}", f"HTTP {response.status_code}")
        log.warning("the API answered %s, lines stay spooled: %s", response.status_code, _detail(response))
        return _Answer(Outcome.RETRY, _retry_after(response))

    def _refused_credential(self, response: httpx.Response, what: str) -> _Answer:
        detail = _detail(response)
        self._note_failure(f"{response.status_code}: {detail}", f"HTTP {response.status_code}")
        log.error(
            "the API refused the executor token (%s) for %s: %s. Their lines stay in the spool (%s), tried again "
            "%d times %g s apart, then not before the forwarder restarts: check EXECUTOR_TOKEN_FILE (its scope "
            "must be executor, and a token bound to a node acts only for that node's executions)",
            response.status_code,
            what,
            detail,
            self.spool.directory,
            self.refused_retries,
            self.refused_retry_seconds,
        )
        return _Answer(Outcome.KEPT, status=response.status_code, detail=detail)

    def _drop(self, batch: SpoolBatch, lines: list[dict], start: int, end: int, status: int, detail: str) -> None:
        for position in range(start, end):
            error = {"line": position + 1, "status": status, "_id": batch.ids[position], "error": detail}
            batch.errors.append(error)
            self.errors.append(error)
        self.error_count += end - start
        metrics.LINES_REFUSED.inc(end - start)
        metrics.FORWARDER_REFUSED.labels(str(status), "dropped").inc(end - start)
        log.error(
            "the API refused %d log lines for good (%s: %s), dropped: %s .. %s",
            end - start,
            status,
            detail,
            batch.ids[start],
            batch.ids[end - 1],
        )

    def _note_failure(self, failure: str, reason: str) -> None:
        self.last_failure, self.last_failure_reason = failure, reason
        self.last_failure_at = time.time()
        metrics.SHIPPER_LAST_FAILURE.set(self.last_failure_at)

    def _failed_pass(self) -> None:
        self.failing = True
        metrics.SHIPPER_RETRIES.inc()


def _posted(source: dict) -> bytes:
    """One spooled document as the line the ingest route takes: the API adds the execution's own fields."""
    return orjson.dumps({k: source[k] for k in POSTED_FIELDS if k in source}) + b"\n"


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else response.reason_phrase


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (a number, or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
