"""Log line -> Elasticsearch bulk action: the document, its daily index and its deterministic _id.

A document is written with op_type "create" under an _id made of (cluster_id, scale_order_num), in the
index of its own @timestamp's UTC day, so writing the same line again answers 409 instead of duplicating.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from core.times import NS, format_ns

# Messages reach here already valid Unicode (capture and receive replace bad bytes and lone surrogates).
_encode = orjson.dumps


@dataclass(frozen=True)
class Origin:
    """The fields shared by every line of one execution (Scale's names in comments)."""

    cluster_id: str  # scale_job_exe
    task: str = ""  # scale_task
    node: str = ""  # scale_node
    host: str = ""
    job_type: str = ""  # scale_job_type
    job_type_version: str = ""  # scale_job_version
    job_id: str = ""  # scale_job_id (a string, as Scale wrote it)
    exe_num: str = ""  # scale_job_exe_num

    def fields(self) -> dict[str, str]:
        named = {
            "scale_job_exe": self.cluster_id,
            "scale_task": self.task,
            "scale_node": self.node,
            "host": self.host,
            "scale_job_type": self.job_type,
            "scale_job_version": self.job_type_version,
            "scale_job_id": self.job_id,
            "scale_job_exe_num": self.exe_num,
        }
        return {k: v for k, v in named.items() if v}


@dataclass(frozen=True, slots=True)
class CapturedLine:
    message: str
    stream: str
    time_ns: int  # capture time, nanoseconds since the epoch (UTC)
    order: int  # scale_order_num
    task: str | None = None  # overrides Origin.task for this line


def index_name(prefix: str, time_ns: int) -> str:
    return prefix + "-" + time.strftime("%Y.%m.%d", time.gmtime(time_ns // NS))


def doc_id(cluster_id: str, order: int) -> str:
    # The order number is the digits after the last "#", so distinct pairs never share an _id.
    # _id is limited to 512 bytes: very long cluster ids are replaced by their digest.
    if len(cluster_id.encode()) > 400:
        cluster_id = hashlib.sha256(cluster_id.encode()).hexdigest()
    return f"{cluster_id}#{order}"


def bulk_pairs(
    prefix: str, origin: Origin, lines: Iterable[CapturedLine]
) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """([(action line, source line)], [_id]) ready for the bulk API, serialized once."""
    shared = origin.fields()
    pairs: list[tuple[bytes, bytes]] = []
    ids: list[str] = []
    day_index: dict[int, str] = {}
    last_ns, last_stamp = -1, ""  # lines captured together often share a timestamp
    for line in lines:
        day = line.time_ns // (86400 * NS)
        index = day_index.get(day)
        if index is None:
            index = day_index[day] = index_name(prefix, line.time_ns)
        _id = doc_id(origin.cluster_id, line.order)
        if line.time_ns != last_ns:
            last_ns, last_stamp = line.time_ns, format_ns(line.time_ns)
        source = {
            "@timestamp": last_stamp,
            "scale_order_num": line.order,
            "stream": line.stream,
            "message": line.message,
            **shared,
        }
        if line.task:
            source["scale_task"] = line.task
        action = {"create": {"_index": index, "_id": _id}}
        pairs.append((_encode(action), _encode(source)))
        ids.append(_id)
    return pairs, ids
