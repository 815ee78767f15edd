"""Streamed bodies: what happens when Elasticsearch fails after the response started."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from search import LogsUnavailable

log = logging.getLogger(__name__)


def guarded_stream(chunks: Iterable[bytes], source: Iterator) -> Iterator[bytes]:
    """The body after the response started: an Elasticsearch failure can only cut it short."""
    try:
        yield from chunks
    except LogsUnavailable as exc:
        log.warning("log stream cut short: %s", exc.detail)
    finally:
        close = getattr(source, "close", None)
        if close:
            close()  # ends the point-in-time at once when the client goes away
