"""The app factory: create_app(services, settings, clock) builds the Falcon app around services built
elsewhere (api.services.build_services in production, the tests' own stores in tests)."""

from __future__ import annotations

import json
from typing import Any

import falcon
import falcon.media
import orjson

from api.auth import Auth
from api.errors import add_error_handlers
from api.middleware import ScalePaths, SecurityHeaders
from api.request_log import RequestTracking
from api.routes import add_routes
from api.services import Services
from core.times import Clock, format_datetime, utcnow
from settings import Settings


def write_json(obj) -> bytes:
    """JSON bodies. Datetimes (aware, UTC: jobs.models.UtcDateTime) go out as Scale writes them, exactly as
    core.times.format_datetime does (Z, microseconds only when non-zero), written by orjson itself: a job page
    holds about 700 of them, and formatting them in Python was a sixth of its time."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_UTC_Z)
    except TypeError:  # orjson refuses integers beyond 64 bits; the standard library does not
        return json.dumps(obj, default=format_datetime).encode()


def create_app(services: Services, settings: Settings, clock: Clock = utcnow) -> falcon.App:
    # RequestTracking first: the request has its id before anything else can answer it (CORS, redirect, 401).
    middleware: list[Any] = [
        RequestTracking(),
        SecurityHeaders(cors=bool(settings.allowed_origins)),
        ScalePaths(settings.trust_forwarded_host),
        Auth(
            services.stores.users,
            settings.api_token,
            settings.read_token,
            settings.session_idle_seconds,
            settings.secure_cookies,
        ),
    ]
    if settings.allowed_origins:
        # A browser client served from these origins may call the API, cookies included (it must still send the
        # X-CSRFToken header with a session's writes, and the cookies are SameSite=Lax: same-site origins only).
        origins = list(settings.allowed_origins)
        cors: Any = falcon.CORSMiddleware(
            allow_origins=origins, allow_credentials=origins, expose_headers=["Location", "Retry-After"]
        )
        middleware.insert(2, cors)
    app = falcon.App(middleware=middleware)
    app.req_options.keep_blank_qs_values = True
    app.req_options.strip_url_path_trailing_slash = False
    app.resp_options.secure_cookies_by_default = False
    # Responses only: request bodies are read by api.bodies (limits and Scale's messages first).
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = falcon.media.JSONHandler(dumps=write_json, loads=orjson.loads)
    add_error_handlers(app)
    add_routes(app, services, settings, clock)
    return app
