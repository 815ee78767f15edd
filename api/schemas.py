"""Named JSON schemas, and responses several routes share, for the route declarations and the OpenAPI document."""

from __future__ import annotations

from api.routing import json_response

COMPONENTS: dict[str, dict] = {}


def component(name: str, schema: dict) -> dict:
    """Register a named schema; returns a $ref to it."""
    COMPONENTS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


ERROR = component(
    "Error",
    {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "request_id": {
                "type": "string",
                "description": "The request's X-Request-ID (the client's, or one made for it): quote it to an operator",
            },
        },
        "required": ["detail"],
    },
)


def paginated(item: dict) -> dict:
    """The v6 list envelope around items of the given schema."""
    return {
        "type": "object",
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "next": {"type": ["string", "null"]},
            "previous": {"type": ["string", "null"]},
            "results": {"type": "array", "items": item},
        },
        "required": ["count", "next", "previous", "results"],
    }


# Responses several routes declare.
ERROR_409 = json_response(ERROR, "The job is not in a state that allows this")
ERROR_413 = json_response(ERROR, "The body is larger than MAX_BODY_BYTES")
ERROR_415 = json_response(ERROR, "The body is not JSON")
