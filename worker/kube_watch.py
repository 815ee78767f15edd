"""Kubernetes watches that never miss a change: list, then watch from the list's resourceVersion, resume each
new watch from the last version seen (bookmarks included), and list again when the server answers 410 Gone
(that version was compacted away). Objects stay the API's JSON (dicts, camelCase), as the server sent them.

Each watch runs on a thread of its own and puts ("list", [objects]) after every (re-)list and (type, object)
for every event into one queue the engine reads.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

log = logging.getLogger("worker")

GONE = 410
WATCH_SECONDS = 240  # the server ends a watch after this; it is resumed from the last version seen
RETRY_SECONDS = 1.0


class Gone(Exception):
    """The version to resume from is too old: list again."""


def call_json(func: Callable, *args: Any, **kwargs: Any) -> dict:
    """An API call's answer as the server's JSON, not the client's models."""
    resp: Any = func(*args, _preload_content=False, **kwargs)
    return json.loads(resp.data)


def list_objects(list_func: Callable, namespace: str, selector: str) -> tuple[list[dict], str]:
    """(items as JSON dicts, the list's resourceVersion)."""
    body = call_json(list_func, namespace, label_selector=selector)
    return body.get("items") or [], body["metadata"]["resourceVersion"]


class Watcher:
    def __init__(self, kind: str, list_func: Callable, namespace: str, selector: str, events: queue.Queue):
        self.kind, self.list_func, self.namespace, self.selector = kind, list_func, namespace, selector
        self.events = events
        self.version: str | None = None
        self.relists = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{kind}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.version is None:
                    items, self.version = list_objects(self.list_func, self.namespace, self.selector)
                    self.relists += 1
                    self.events.put((self.kind, "LIST", items))
                self._watch()
            except Gone:
                log.info("%s watch: resourceVersion %s expired, listing again", self.kind, self.version)
                self.version = None
            except ApiException as exc:
                if exc.status == GONE:
                    self.version = None
                    continue
                log.warning("%s watch failed: %s", self.kind, exc)
                self._stop.wait(RETRY_SECONDS)
            except Exception as exc:  # the API server is unreachable: try again, from the same version
                log.warning("%s watch failed: %s", self.kind, exc)
                self._stop.wait(RETRY_SECONDS)

    def _watch(self) -> None:
        resp = self.list_func(
            self.namespace,
            label_selector=self.selector,
            watch=True,
            resource_version=self.version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _preload_content=False,
            _request_timeout=(10, WATCH_SECONDS + 30),
        )
        try:
            buffer = b""
            for chunk in resp.stream(65536, decode_content=True):
                if self._stop.is_set():
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        self._event(json.loads(line))
        finally:
            resp.release_conn()

    def _event(self, event: dict[str, Any]) -> None:
        kind, obj = event["type"], event["object"]
        if kind == "ERROR":
            if obj.get("code") == GONE:
                raise Gone()
            raise ApiException(status=obj.get("code"), reason=obj.get("message"))
        self.version = obj["metadata"]["resourceVersion"]
        if kind != "BOOKMARK":
            self.events.put((self.kind, kind, obj))
