"""Reading one execution's log through the API's cursors, so nothing is read twice or skipped:

- whole: pages of `limit` lines, each asked for `after` the cursor of the one before (X-Next-Cursor), until no
  `Link: rel="next"`; a page that fails is asked for again with the same cursor;
- tail: the last N lines in one answer;
- followed: the API's Server-Sent Events (`follow=true`). Every line event carries an id (a cursor); when the
  connection drops, or the service ends the stream before the execution has ended (it caps each follow at
  FOLLOW_MAX_SECONDS), the client reconnects with `Last-Event-ID` set to the last id it received, and the
  service resumes strictly after that line. The stream's `end` event says the execution has ended.

An unreachable service, a 429 or a 502/503/504 is retried with capped backoff for up to `give_up_after` seconds
without progress; other errors end the command with the service's `detail`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from scalecli.api import Api, ApiError

PAGE_LINES = 1000
RETRY_STATUSES = (429, 502, 503, 504)  # 429: the caps on follows (Retry-After is short)
# The service sends a keep-alive comment every 15 s while a follow is idle: silence past this is a dead link.
FOLLOW_READ_TIMEOUT = 60.0


@dataclass
class Retry:
    """Capped exponential backoff, reset by progress; gives up after `give_up_after` seconds of failures."""

    give_up_after: float = 300.0
    first: float = 0.5
    cap: float = 5.0
    on_retry: Callable[[str, float], None] | None = None
    _delay: float = 0.0
    _failing_since: float | None = None

    def progress(self) -> None:
        self._delay, self._failing_since = 0.0, None

    def failed(self, why: str, error: Exception) -> None:
        """Wait before the next attempt; re-raise `error` when failures have lasted too long."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if now - self._failing_since > self.give_up_after:
            raise error
        self._delay = min(self.cap, self._delay * 2 if self._delay else self.first)
        if self.on_retry:
            self.on_retry(why, self._delay)
        time.sleep(self._delay)


def retryable(exc: ApiError) -> bool:
    return exc.status is None or exc.status in RETRY_STATUSES


def log_path(exe_id: int, stream: str) -> str:
    return f"/v6/job-executions/{exe_id}/logs/{stream}/"


def whole(api: Api, exe_id: int, stream: str, retry: Retry) -> Iterator[dict[str, Any]]:
    after: str | None = None
    while True:
        params: dict[str, Any] = {"format": "array", "limit": PAGE_LINES}
        if after:
            params["after"] = after
        try:
            response = api.request("GET", log_path(exe_id, stream), params=params)
        except ApiError as exc:
            if not retryable(exc):
                raise
            retry.failed(str(exc), exc)
            continue
        retry.progress()
        if response.status_code == 204:
            return
        yield from response.json()
        after = response.headers.get("X-Next-Cursor")
        if "next" not in response.links or not after:
            return


def tail(api: Api, exe_id: int, stream: str, lines: int) -> list[dict[str, Any]]:
    response = api.request("GET", log_path(exe_id, stream), params={"format": "array", "tail": lines})
    return [] if response.status_code == 204 else response.json()


def follow(api: Api, exe_id: int, stream: str, tail_lines: int | None, retry: Retry) -> Iterator[dict[str, Any]]:
    """Lines as they come, until the execution has ended."""
    last_id: str | None = None
    while True:
        params: dict[str, Any] = {"follow": "true"}
        if last_id is None and tail_lines is not None:
            params["tail"] = tail_lines  # only before the first line: a resume continues after the last one
        received = False
        try:
            with api.events(log_path(exe_id, stream), params, last_id, FOLLOW_READ_TIMEOUT) as source:
                for event in source.iter_sse():
                    if event.event == "end":
                        return
                    if event.event != "message" or not event.data:
                        continue
                    line = json.loads(event.data)
                    last_id = event.id or last_id
                    received = True
                    retry.progress()
                    yield line
        except httpx.TransportError as exc:
            retry.failed(f"connection lost ({type(exc).__name__})", ApiError(f"cannot reach {api.url}: {exc}"))
            continue
        except ApiError as exc:
            if not retryable(exc):
                raise
            retry.failed(str(exc), exc)
            continue
        if not received:  # ended early with nothing new: don't spin
            retry.failed("the stream ended early", ApiError("the service keeps ending the log stream"))
