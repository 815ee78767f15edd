"""Route declarations: each resource states its operations once; the app and the OpenAPI document read them.

A resource class sets `operations = {"GET": Operation(...), ...}`. `RouteTable.add` registers it with
Falcon and remembers it, so /v6/openapi.json describes exactly the routes that are served.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import falcon

from api.params import Param

# Falcon path converter for database ids: anything else is a 404 before the resource runs.
ID = "int(min=1, max=9223372036854775807)"
_FIELD = re.compile(r"{(\w+)(?::([^}]*))?}")


@dataclass(frozen=True)
class Response:
    description: str
    # media type -> JSON schema (None: no body)
    content: dict[str, dict | None] = field(default_factory=dict)
    headers: tuple[str, ...] = ()


def json_response(schema: dict, description: str = "OK", headers: tuple[str, ...] = ()) -> Response:
    return Response(description, {"application/json": schema}, headers)


@dataclass(frozen=True)
class Operation:
    summary: str
    query: tuple[Param, ...] = ()
    body: dict | None = None  # JSON schema of the request body
    body_media: str = "application/json"
    responses: dict[int, Response] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


class RouteTable:
    """The app's routes in the order they were added."""

    def __init__(self, app: falcon.App):
        self._app = app
        self.routes: list[tuple[str, Any]] = []

    def add(self, template: str, resource: Any) -> None:
        if hasattr(resource, "on_get") and not hasattr(resource, "on_head"):
            # HEAD answers as GET does, headers only (RFC 9110 9.3.2): Falcon drops the body of a HEAD response.
            resource.on_head = resource.on_get
        self._app.add_route(template, resource)
        self.routes.append((template, resource))


def path_fields(template: str) -> list[tuple[str, str | None]]:
    """[(name, converter)] of a Falcon URI template."""
    return [(m.group(1), m.group(2)) for m in _FIELD.finditer(template)]


def openapi_path(template: str) -> str:
    return _FIELD.sub(lambda m: "{" + m.group(1) + "}", template)
