"""The one way the service builds its Elasticsearch client, for the API, the shipper CLI, the worker and the
benchmarks alike, from the settings.

Two retry policies, because the callers want opposite things: a request the API serves must fail fast (the
client gets a 503 and retries itself), while shipping and the command line can wait for a busy node.
"""

from __future__ import annotations

from typing import Any

import orjson
from elasticsearch import Elasticsearch, JsonSerializer

from settings import Settings

# Without ELASTICSEARCH_URL, the node `make run` starts on its default port.
DEFAULT_URL = "http://127.0.0.1:9200"
# A busy node answers 429 (e.g. its memory breaker) or 50x for a moment.
BUSY_STATUSES = (429, 502, 503, 504)


class FastJsonResponses(JsonSerializer):
    """The client's JSON serializer, parsing responses with orjson: a whole-log read parses 2,000-hit search
    responses back to back, and the standard library's parser was the largest cost of serving one. Where orjson
    refuses a body (a lone surrogate escape, which an old document may hold), the standard library parses it."""

    def json_loads(self, data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().json_loads(data)


def elasticsearch_client(settings: Settings, *, patient: bool = False) -> Elasticsearch:
    """A client for settings' cluster. patient=True (shipping, CLI): three retries on a busy node;
    otherwise (serving requests) one retry on a lost connection and none on a timeout."""
    retries: dict[str, Any]
    if patient:
        retries = {"max_retries": 3, "retry_on_status": BUSY_STATUSES}
    else:
        retries = {"max_retries": 1, "retry_on_timeout": False}
    return Elasticsearch(
        settings.elasticsearch_url or DEFAULT_URL,
        request_timeout=settings.elasticsearch_timeout,
        serializers={"application/json": FastJsonResponses()},  # also for the compatibility mimetype
        **retries,
    )
