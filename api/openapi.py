"""OpenAPI 3.1 document built from the served routes' own declarations (see api.routing)."""

from __future__ import annotations

from typing import Any

import falcon

from api.auth import Access
from api.routing import Operation, RouteTable, json_response, openapi_path, path_fields
from api.schemas import COMPONENTS, ERROR

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def build(table: RouteTable, title: str = "Scale job and log search service", version: str = "6") -> dict:
    paths: dict[str, dict] = {}
    for template, resource in table.routes:
        operations: dict[str, Operation] = getattr(resource, "operations", {})
        item = paths.setdefault(openapi_path(template), {})
        access = getattr(resource, "access", Access.PROTECTED)
        for method, op in operations.items():
            item[method.lower()] = _operation(template, method, op, type(resource).__name__, access)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": dict(COMPONENTS),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                # A browser login (POST /v6/accounts/login/); its writes also send X-CSRFToken = the csrftoken cookie.
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
        },
    }


def _operation(template: str, method: str, op: Operation, resource_name: str, access: Access) -> dict:
    """The OpenAPI operation. Writes need a credential unless anyone may call them (the login, the logout); reads
    need one in READ_TOKEN mode, unless they are public."""
    anyone = access in (Access.PUBLIC, Access.OPEN)
    params: list[dict] = []
    for name, converter in path_fields(template):
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 1} if converter and converter.startswith("int") else {"type": "string"}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    for p in op.query:
        entry: dict[str, Any] = {"name": p.name, "in": "query", "required": p.required, "schema": p.schema()}
        if p.many:
            entry.update(style="form", explode=True)
        if p.description:
            entry["description"] = p.description
        params.append(entry)
    responses = dict(op.responses)
    error = json_response(ERROR, "Error")
    if op.query or op.body is not None:
        responses.setdefault(400, error)
    if path_fields(template) or any(p.name == "page" for p in op.query):
        responses.setdefault(404, error)
    if not anyone:
        responses.setdefault(401, error)
        responses.setdefault(403, error)
    out: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{resource_name}_{method.lower()}",
        "parameters": params,
        "responses": {str(code): _response(r) for code, r in sorted(responses.items())},
    }
    if op.tags:
        out["tags"] = list(op.tags)
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": {op.body_media: {"schema": op.body}}}
    if method in WRITE_METHODS and not anyone:
        out["security"] = [{"bearer": []}, {"session": []}]
    return out


def _response(r) -> dict:
    out: dict[str, Any] = {"description": r.description}
    content = {media: ({"schema": s} if s is not None else {}) for media, s in r.content.items()}
    if content:
        out["content"] = content
    if r.headers:
        out["headers"] = {h: {"schema": {"type": "string"}} for h in r.headers}
    return out


class OpenApiResource:
    access = Access.PUBLIC
    operations = {"GET": Operation("This OpenAPI document", responses={200: json_response({"type": "object"})})}

    def __init__(self, table: RouteTable):
        self._table = table
        self._doc: dict | None = None

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._doc is None:  # routes are all added before the first request
            self._doc = build(self._table)
        resp.media = self._doc
