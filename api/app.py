"""The app factory: create_app(services, settings, clock) builds the Falcon app around services built
elsewhere (api.services.build_services in production, the tests' own stores in tests)."""

from __future__ import annotations

import json
from typing import Any

import falcon
import falcon.media
import orjson

from api.auth import TokenAuth
from api.errors import add_error_handlers
from api.middleware import ScalePaths
from api.request_log import RequestTracking
from api.routes import add_routes
from api.services import Services
from core.times import Clock, utcnow
from settings import Settings


def _dumps(obj) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson refuses integers beyond 64 bits; the standard library does not
        return json.dumps(obj).encode()


def create_app(services: Services, settings: Settings, clock: Clock = utcnow) -> falcon.App:
    # RequestTracking first: the request has its id before anything else can answer it (redirect, 401).
    middleware: list[Any] = [RequestTracking(), ScalePaths(), TokenAuth(settings.api_token, settings.read_token)]
    app = falcon.App(middleware=middleware)
    app.req_options.keep_blank_qs_values = True
    app.req_options.strip_url_path_trailing_slash = False
    app.resp_options.secure_cookies_by_default = False
    # Responses only: request bodies are read by api.bodies (limits and Scale's messages first).
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = falcon.media.JSONHandler(dumps=_dumps, loads=orjson.loads)
    add_error_handlers(app)
    add_routes(app, services, settings, clock)
    return app
