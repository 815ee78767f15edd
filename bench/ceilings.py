"""What the node itself can do, with (almost) no Python in the way: the limits ours is also measured against.

- Ingest ceiling: the very documents ours sends (ingest.documents.bulk_pairs, serialized before the timer), cut
  into _bulk bodies of the shipper's chunk size (5,000 lines) and POSTed as bytes over `connections` parallel
  keep-alive HTTP connections (http.client, one thread each: the threads only wait on sockets), until refreshed
  and counted. No client library, no document building, no response parsing beyond `"errors":false`
  (filter_path=errors,items.*.error keeps the answers small).
- Read ceiling: a whole log over a point-in-time with search_after, 2,000 hits a request, the same query, sort,
  _source and filter_path as ours, the bodies read as bytes and never decoded: the hits are counted with
  bytes.count(b'"sort":['), and only the last hit's sort array (found with bytes.rfind) and the pit_id are
  parsed, to ask for the next page.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

CHUNK_LINES = 5000


class Raw:
    """One keep-alive HTTP/1.1 connection to Elasticsearch, bytes in and out."""

    def __init__(self, url: str, timeout: float = 600):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)

    def post(
        self, path: str, body: bytes, content_type: str = "application/json", method: str = "POST"
    ) -> tuple[int, bytes]:
        self.conn.request(method, path, body=body, headers={"Content-Type": content_type})
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()


def bulk_bodies(pairs: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [
        b"".join(a + b"\n" + s + b"\n" for a, s in pairs[i : i + CHUNK_LINES])
        for i in range(0, len(pairs), CHUNK_LINES)
    ]


def ingest(url: str | list[str], bodies: list[bytes], connections: int) -> int:
    """POST every body over `connections` parallel connections (spread over the URLs when given several: a
    cluster's nodes); raises on any error but 429, which is re-sent after half a second (returns how many were)."""
    urls = [url] if isinstance(url, str) else url
    queue = list(reversed(bodies))
    lock = threading.Lock()
    failures: list[str] = []
    rejections: list[int] = []

    def run(k: int) -> None:
        raw = Raw(urls[k % len(urls)])
        try:
            while True:
                with lock:
                    if not queue or failures:
                        return
                    body = queue.pop()
                while True:
                    status, answer = raw.post("/_bulk?filter_path=errors,items.*.error", body, "application/x-ndjson")
                    if status != 429:
                        break
                    rejections.append(1)  # the node sheds load (a circuit breaker): any client waits and re-sends
                    time.sleep(0.5)
                if status != 200 or not answer.startswith(b'{"errors":false'):
                    failures.append(f"{status} {answer[:300]!r}")
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            raw.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError("ingest ceiling: " + failures[0])
    return len(rejections)


def read(
    url: str, index: str, query: dict, sort: list, source: dict, filter_path: list[str], content: Any = None
) -> tuple[int, int]:
    """(hits, body bytes) of a whole log read over a point-in-time, the bodies left undecoded (but scanned by
    `content.json_text` when given: log_bench.Content, the order numbers and messages of what was read)."""
    raw = Raw(url)
    try:
        status, answer = raw.post(f"/{index}/_pit?keep_alive=2m&ignore_unavailable=true&expand_wildcards=open", b"")
        if status != 200:
            raise RuntimeError(f"read ceiling: open pit {status} {answer[:300]!r}")
        pit = json.loads(answer)["id"]
        request: dict[str, Any] = {
            "query": query,
            "sort": sort,
            "size": 2000,
            "track_total_hits": False,
            "_source": source,
            "pit": {"id": pit, "keep_alive": "2m"},
        }
        path = "/_search?filter_path=" + ",".join(filter_path)
        hits = size = 0
        while True:
            status, answer = raw.post(path, json.dumps(request).encode())
            if status != 200:
                raise RuntimeError(f"read ceiling: {status} {answer[:300]!r}")
            size += len(answer)
            if content is not None:
                content.json_text(answer)
            got = answer.count(b'"sort":[')
            hits += got
            if got < 2000:
                break
            start = answer.rfind(b'"sort":[') + len(b'"sort":')
            request["search_after"] = json.loads(answer[start : answer.index(b"]", start) + 1])[:4]
            at = answer.find(b'"pit_id":"')
            if at >= 0:
                at += len(b'"pit_id":"')
                request["pit"] = {"id": answer[at : answer.index(b'"', at)].decode(), "keep_alive": "2m"}
        raw.post("/_pit", json.dumps({"id": request["pit"]["id"]}).encode(), method="DELETE")
        return hits, size
    finally:
        raw.close()


def timed(call) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began
