"""The one way the service builds its Elasticsearch client, for the API, the shipper CLI, the worker and the
benchmarks alike, from the settings: the cluster's nodes (ELASTICSEARCH_URL may list several), an API key or a
user and password, and TLS (a CA file, a certificate fingerprint, or no verification at all when asked).

Two retry policies, because the callers want opposite things: a request the API serves must fail fast (the
client gets a 503 and retries itself), while shipping and the command line can wait for a busy node. With
several nodes, a request that finds its node gone is retried on another one (the client marks the dead node
and tries it again later), so losing one node of three costs no request.
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


def hosts(settings: Settings) -> list[str]:
    """The nodes' URLs (never with credentials: settings keeps those apart)."""
    listed = [url.strip() for url in (settings.elasticsearch_url or "").split(",") if url.strip()]
    return listed or [DEFAULT_URL]


def uses_tls(settings: Settings) -> bool:
    return hosts(settings)[0].startswith("https:")  # settings refuses a mix of http:// and https://


def describe(settings: Settings) -> str:
    """What to print about the connection: the nodes and how the service authenticates, never a secret."""
    if settings.elasticsearch_api_key:
        auth = "API key"
    elif settings.elasticsearch_username:
        auth = f"user {settings.elasticsearch_username}"
    else:
        auth = "no credentials"
    tls = ""
    if settings.elasticsearch_ssl_fingerprint:
        tls = ", certificate fingerprint pinned"
    elif settings.elasticsearch_ca_certs:
        tls = f", CA {settings.elasticsearch_ca_certs}"
    elif not settings.elasticsearch_verify_certs:
        tls = ", certificates NOT verified"
    return f"{', '.join(hosts(settings))} ({auth}{tls})"


def connection_options(settings: Settings) -> dict[str, Any]:
    """The client's authentication and TLS arguments."""
    options: dict[str, Any] = {}
    if settings.elasticsearch_api_key:
        key = settings.elasticsearch_api_key
        # "id:api_key" as Kibana and the create API key response show them apart; the client takes a pair.
        options["api_key"] = tuple(key.split(":", 1)) if ":" in key else key
    elif settings.elasticsearch_username is not None:
        options["basic_auth"] = (settings.elasticsearch_username, settings.elasticsearch_password or "")
    if not uses_tls(settings):
        return options  # the TLS variables do not apply to http:// (preflight says so)
    if settings.elasticsearch_ssl_fingerprint:
        options["ssl_assert_fingerprint"] = settings.elasticsearch_ssl_fingerprint
    elif settings.elasticsearch_ca_certs:
        options["ca_certs"] = settings.elasticsearch_ca_certs
    if not settings.elasticsearch_verify_certs:
        options["verify_certs"] = False
        options["ssl_show_warn"] = False  # the operator asked for it; preflight says so once, at start-up
    return options


def elasticsearch_client(settings: Settings, *, patient: bool = False) -> Elasticsearch:
    """A client for settings' cluster. patient=True (shipping, CLI): three retries on a busy node;
    otherwise (serving requests) one retry on a lost connection and none on a timeout."""
    retries: dict[str, Any]
    if patient:
        retries = {"max_retries": 3, "retry_on_status": BUSY_STATUSES}
    else:
        retries = {"max_retries": 1, "retry_on_timeout": False}
    return Elasticsearch(
        hosts(settings),
        request_timeout=settings.elasticsearch_timeout,
        serializers={"application/json": FastJsonResponses()},  # also for the compatibility mimetype
        **connection_options(settings),
        **retries,
    )
