"""The app factory: builds the stores from settings and hands them to small resources."""
from __future__ import annotations

import json

import falcon
import falcon.media
import orjson
from elasticsearch import Elasticsearch

from api.auth import TokenAuth
from api.clock import Clock, utcnow
from api.errors import serialize_error, unexpected_error_handler
from api.health import Liveness, Readiness
from api.middleware import ScalePaths
from api.openapi import OpenApiResource
from api.routing import RouteTable
from settings import Settings

DEFAULT_ELASTICSEARCH_URL = "http://127.0.0.1:9200"


def _dumps(obj) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson refuses integers beyond 64 bits; the standard library does not
        return json.dumps(obj).encode()


def create_app(settings: Settings, clock: Clock = utcnow) -> falcon.App:
    from jobs.db import is_unavailable, make_engine, ping
    from jobs.store import JobStore

    engine = make_engine(settings.database_url)
    job_store = JobStore(engine, clock)
    es = Elasticsearch(
        settings.elasticsearch_url or DEFAULT_ELASTICSEARCH_URL,
        request_timeout=settings.elasticsearch_timeout,
        max_retries=1,
        retry_on_timeout=False,
    )

    app = falcon.App(middleware=[ScalePaths(), TokenAuth(settings.api_token, settings.read_token)])
    app.req_options.keep_blank_qs_values = True
    app.req_options.strip_url_path_trailing_slash = False
    app.resp_options.secure_cookies_by_default = False
    json_handler = falcon.media.JSONHandler(dumps=_dumps, loads=orjson.loads)
    app.req_options.media_handlers[falcon.MEDIA_JSON] = json_handler
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = json_handler
    app.set_error_serializer(serialize_error)
    app.add_error_handler(Exception, unexpected_error_handler(is_unavailable))

    routes = RouteTable()
    routes.add(app, "/healthz", Liveness())
    routes.add(app, "/readyz", Readiness(lambda: ping(engine), es.info))
    routes.add(app, "/v6/openapi.json", OpenApiResource(routes))

    # Each area adds its routes here, given only the stores it needs.
    from api.job_routes import add_job_routes
    add_job_routes(app, routes, job_store, settings, clock)
    from api.log_routes import add_log_routes
    from search import LogSearch
    add_log_routes(app, routes, job_store, LogSearch.from_settings(es, settings), settings, clock)
    from api.ingest_routes import add_ingest_routes
    from ingest import start_log_writer
    add_ingest_routes(app, routes, job_store, start_log_writer(es, settings), settings, clock)
    return app
