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


_NO_SOURCE: dict = {}


def line_of(hit: dict) -> Line:
    """The line of a search hit. Runs for every line read, so it is written for speed (one function, exact type
    checks, which hold for values parsed from JSON)."""
    key = tuple(hit["sort"][:4])
    sort_ns = key[0]
    get = (hit.get("_source") or _NO_SOURCE).get
    node = get("scale_node")
    if node is None:  # legacy documents carry the node as `host` (a string, or ECS's {"name": ...})
        host = get("host")
        node = host.get("name") if isinstance(host, dict) else host
    message = get("message", "")
    order = get("scale_order_num")
    fields = {
        "message": message if type(message) is str else str(message),
        # Always nine fraction digits: one width, so the text sorts as the time does (Scale's UI sorts on it).
        "@timestamp": format_ns(sort_ns if sort_ns % 1_000_000 else timestamp_ns(get("@timestamp"), sort_ns)),
        "scale_order_num": order if type(order) is int else as_int(order),
        "scale_task": get("scale_task"),
        "scale_job_exe": get("scale_job_exe"),
        "scale_node": node,
        "stream": get("stream"),
    }
    return Line(fields, key, hit.get("_index"), hit.get("_id"))


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
