"""Log lines as the API returns them, built from Elasticsearch hits of ours or of legacy Scale indices."""

from __future__ import annotations

from typing import NamedTuple

from core.times import format_ns, parse_ns
from search import cursor


class Line(NamedTuple):  # a tuple: built once per line read, and cheaper to build than a frozen dataclass
    fields: dict  # message, @timestamp, scale_order_num, scale_task, scale_job_exe, scale_node, stream
    key: tuple  # sort key; cursor.encode(key) resumes after this line
    doc_index: str | None = None  # the Elasticsearch document it was read from: its index and _id
    doc_id: str | None = None

    @property
    def cursor(self) -> str:
        return cursor.encode(self.key)

    @property
    def stream(self) -> str | None:
        return self.fields["stream"]


def line_of(hit: dict) -> Line:
    source = hit.get("_source", {})
    key = tuple(hit["sort"][:4])
    return Line(line_fields(source, key[0]), key, hit.get("_index"), hit.get("_id"))


def line_fields(source: dict, sort_ns: int) -> dict:
    node = source.get("scale_node")
    if node is None:  # legacy documents carry the node as `host` (a string, or ECS's {"name": ...})
        host = source.get("host")
        node = host.get("name") if isinstance(host, dict) else host
    message = source.get("message", "")
    return {
        "message": message if isinstance(message, str) else str(message),
        # Always nine fraction digits: one width, so the text sorts as the time does (Scale's UI sorts on it).
        "@timestamp": format_ns(timestamp_ns(source.get("@timestamp"), sort_ns)),
        "scale_order_num": as_int(source.get("scale_order_num")),
        "scale_task": source.get("scale_task"),
        "scale_job_exe": source.get("scale_job_exe"),
        "scale_node": node,
        "stream": source.get("stream"),
    }


def timestamp_ns(stored, sort_ns: int) -> int:
    """The line's time in nanoseconds: the sort value, or the source's finer digits where a legacy `date`
    field kept only milliseconds of them."""
    if sort_ns % 1_000_000 or not isinstance(stored, str):
        return sort_ns
    try:
        parsed = parse_ns(stored.strip())
    except ValueError:  # not a time we can read finer than the sort value: keep the sort value
        return sort_ns
    return parsed if parsed // 1_000_000 == sort_ns // 1_000_000 else sort_ns


def as_int(value):
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value
