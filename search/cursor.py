"""Opaque cursors: the sort key of a log line, so a read can resume strictly after it.

A key is (@timestamp in epoch nanoseconds, scale_order_num, index name, _seq_no): the last two make it
unique without sorting on _id (which needs fielddata) or _shard_doc (which only holds within one PIT).
"""

from __future__ import annotations

import base64
import binascii
import json

# (@timestamp in epoch nanoseconds, scale_order_num, index name, _seq_no)
Key = tuple[int, int, str, int]
VERSION = "1"
KEY_TYPES = (int, int, str, int)
# Elasticsearch's sort values are longs: a larger number in search_after is its error, not the client's 400.
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


class InvalidCursor(ValueError):
    """Not a cursor this service made."""


def encode(key: Key) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return VERSION + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> Key:
    """The key in a cursor; InvalidCursor when it is not one of ours."""
    if not cursor.startswith(VERSION):
        raise InvalidCursor("unknown cursor version")
    body = cursor[len(VERSION) :]
    try:
        values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("malformed cursor") from None
    if not isinstance(values, list) or len(values) != len(KEY_TYPES):
        raise InvalidCursor("malformed cursor")
    for value, kind in zip(values, KEY_TYPES):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidCursor("malformed cursor")
        if isinstance(value, int) and not LONG_MIN <= value <= LONG_MAX:
            raise InvalidCursor("malformed cursor")
    return tuple(values)
