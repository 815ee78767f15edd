"""Log lines as the API returns them, built from Elasticsearch hits of ours or of legacy Scale indices."""

from __future__ import annotations

from dataclasses import dataclass

from core.times import format_ns_short, parse_ns
from search import cursor


@dataclass(frozen=True)
class Line:
    fields: dict  # message, @timestamp, scale_order_num, scale_task, scale_job_exe, scale_node, stream
    key: tuple  # sort key; cursor.encode(key) resumes after this line

    @property
    def cursor(self) -> str:
        return cursor.encode(self.key)

    @property
    def stream(self) -> str | None:
        return self.fields["stream"]


def line_of(hit: dict) -> Line:
    source = hit.get("_source", {})
    key = tuple(hit["sort"][:4])
    return Line(line_fields(source, key[0]), key)


def line_fields(source: dict, sort_ns: int) -> dict:
    node = source.get("scale_node")
    if node is None:  # legacy documents carry the node as `host` (a string, or ECS's {"name": ...})
        host = source.get("host")
        node = host.get("name") if isinstance(host, dict) else host
    message = source.get("message", "")
    return {
        "message": message if isinstance(message, str) else str(message),
        "@timestamp": format_ns_short(timestamp_ns(source.get("@timestamp"), sort_ns)),
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
