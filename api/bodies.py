"""JSON request bodies, each declared once: the same `Body` parses requests (with Scale's parameter messages)
and is the JSON schema the OpenAPI document shows, so the two cannot drift.

A `Body` is a list of `Field`s; a field's `Kind` converts one value (a 400 naming the field when it can't)
and knows its schema. Fields are checked in declaration order, so the first problem is the one reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import falcon

from api.errors import bad_request
from api.params import INT64_MAX, TIMESTAMP_SCHEMA, parse_bool, parse_int, parse_timestamp
from api.schemas import component

FORM = "application/x-www-form-urlencoded"
# Integer columns (priority, max_scheduled, timeout, exe_num, ...) are 32-bit on PostgreSQL.
INT32_MAX = 2**31 - 1
OBJECT_SCHEMA = {"type": "object"}


@dataclass(frozen=True)
class Kind:
    """How one value is converted (`convert(name, raw, now)`) and described (`schema`)."""

    convert: Callable[[str, Any, datetime], Any]
    schema: dict


def _integer(name: str, raw: Any, now: datetime) -> int:
    if isinstance(raw, float):  # JSON numbers with a fraction are not integers
        raise bad_request(f'Parameter must be a valid integer: "{name}"')
    return parse_int(name, raw)


def _int32(name: str, raw: Any, now: datetime) -> int:
    value = _integer(name, raw, now)
    if not -INT32_MAX - 1 <= value <= INT32_MAX:
        raise bad_request(f'Parameter must be a valid integer: "{name}"')
    return value


def _string(name: str, raw: Any, now: datetime) -> str:
    if not isinstance(raw, str):
        raise bad_request(f'Parameter must be a valid string: "{name}"')
    return raw


def _at_least(name: str, value: int, minimum: int) -> int:
    if value < minimum:
        raise bad_request(f'Parameter must be at least {minimum}: "{name}"')
    return value


def _object(name: str, raw: Any, now: datetime) -> dict:
    if not isinstance(raw, dict):
        raise bad_request(f'Parameter must be a valid JSON object: "{name}"')
    return raw


STRING = Kind(_string, {"type": "string"})
INTEGER = Kind(_integer, {"type": "integer"})
NON_NEGATIVE = Kind(
    lambda name, raw, now: _at_least(name, _integer(name, raw, now), 0), {"type": "integer", "minimum": 0}
)
INT32 = Kind(_int32, {"type": "integer", "minimum": -INT32_MAX - 1, "maximum": INT32_MAX})
BOOLEAN = Kind(lambda name, raw, now: parse_bool(name, raw), {"type": "boolean"})
TIMESTAMP = Kind(lambda name, raw, now: parse_timestamp(name, raw, now), TIMESTAMP_SCHEMA)


def text(max_length: int, min_length: int = 1) -> Kind:
    """A string of min_length to max_length characters."""

    def convert(name: str, raw: Any, now: datetime) -> str:
        value = _string(name, raw, now)
        if not min_length <= len(value) <= max_length:
            raise bad_request(f'Parameter must be {min_length} to {max_length} characters: "{name}"')
        return value

    return Kind(convert, {"type": "string", "minLength": min_length, "maxLength": max_length})


def json_object(schema: dict = OBJECT_SCHEMA) -> Kind:
    """A JSON object, checked further by the store (a Seed manifest, Data, a configuration...)."""
    return Kind(_object, schema)


def unchecked(schema: dict) -> Kind:
    """Passed through as it is: the store checks it and words the error (e.g. a job's configuration)."""
    return Kind(lambda name, raw, now: raw, schema)


def one_of(choices: tuple[str, ...]) -> Kind:
    def convert(name: str, raw: Any, now: datetime) -> str:
        value = _string(name, raw, now)
        if value not in choices:
            raise bad_request(f'Parameter "{name}" values must be one of: {list(choices)}')
        return value

    return Kind(convert, {"enum": list(choices)})


# A Unicode code point in hexadecimal (0 to 10FFFF), as Font Awesome icons are named in Scale's icon_code.
CODE_POINT_PATTERN = "^(?:[0-9A-Fa-f]{1,5}|10[0-9A-Fa-f]{4})$"
_CODE_POINT = re.compile(CODE_POINT_PATTERN)


def _code_point(name: str, raw: Any, now: datetime) -> str:
    value = _string(name, raw, now)
    if not _CODE_POINT.match(value):
        raise bad_request(f'Parameter "{name}" must be a hexadecimal Unicode code point, such as "f1b2"')
    return value


CODE_POINT = Kind(_code_point, {"type": "string", "pattern": CODE_POINT_PATTERN})


def list_of(item: Kind) -> Kind:
    def convert(name: str, raw: Any, now: datetime) -> list:
        if not isinstance(raw, list):
            raise bad_request(f'Parameter must be a valid list: "{name}"')
        return [item.convert(name, value, now) for value in raw]

    return Kind(convert, {"type": "array", "items": item.schema})


def filter_list_of(item: Kind) -> Kind:
    """A filter list as Scale's UI sends it: items, or lists of items nested one level (its "cancel all" wraps its
    multiselect's list in another), flattened. An empty list is no restriction, as Scale read these filters and
    as the UI means it (nothing selected in a multiselect: every value)."""

    def convert(name: str, raw: Any, now: datetime) -> list | None:
        if not isinstance(raw, list):
            raise bad_request(f'Parameter must be a valid list: "{name}"')
        flat: list = []
        for value in raw:
            flat.extend(value if isinstance(value, list) else [value])
        return [item.convert(name, value, now) for value in flat] or None

    nested = {"anyOf": [item.schema, {"type": "array", "items": item.schema}]}
    return Kind(convert, {"type": "array", "items": nested})


def object_of(*fields: Field) -> Kind:
    """A nested object with these fields; converted to {name: value or None}."""
    return Kind(lambda name, raw, now: parse_fields(fields, _object(name, raw, now), now), object_schema(fields))


def either(key: str, with_key: tuple[Field, ...], without_key: tuple[Field, ...]) -> Kind:
    """An object of one of two forms, told apart by whether `key` is present."""

    def convert(name: str, raw: Any, now: datetime) -> dict:
        value = _object(name, raw, now)
        return parse_fields(with_key if key in value else without_key, value, now)

    return Kind(convert, {"oneOf": [object_schema(with_key), object_schema(without_key)]})


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    required: bool = False


def object_schema(fields: tuple[Field, ...]) -> dict:
    required = [f.name for f in fields if f.required]
    return {
        "type": "object",
        **({"required": required} if required else {}),
        "properties": {f.name: f.kind.schema for f in fields},
    }


def parse_fields(fields: tuple[Field, ...], body: dict, now: datetime) -> dict[str, Any]:
    """{name: converted value, None when absent}; 400 for a missing required field or a bad value."""
    values: dict[str, Any] = {}
    for f in fields:
        raw = body.get(f.name)
        if raw is None:
            if f.required:
                raise bad_request(f'Missing required parameter: "{f.name}"')
            values[f.name] = None
        else:
            values[f.name] = f.kind.convert(f.name, raw, now)
    return values


@dataclass(frozen=True)
class Body:
    """A request body, registered as the OpenAPI component `name`."""

    name: str
    fields: tuple[Field, ...]
    ref: dict = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref", component(self.name, object_schema(self.fields)))

    def read(self, req: falcon.Request, limit: int, now: datetime, forms: bool = False) -> dict[str, Any]:
        """The request's body parsed: see json_body (with `forms`, form_or_json_body) and parse_fields."""
        return parse_fields(self.fields, (form_or_json_body if forms else json_body)(req, limit), now)


def _media(req: falcon.Request) -> str:
    return (req.content_type or "").split(";")[0].strip().lower()


def _read_bounded(req: falcon.Request, limit: int) -> bytes:
    """The raw body; over `limit` bytes is 413."""
    if req.content_length is not None and req.content_length > limit:
        raise falcon.HTTPContentTooLarge(description=f"The body is larger than {limit} bytes")
    raw = req.bounded_stream.read(limit + 1)
    if len(raw) > limit:
        raise falcon.HTTPContentTooLarge(description=f"The body is larger than {limit} bytes")
    return raw


def form_or_json_body(req: falcon.Request, limit: int) -> dict:
    """An HTML form's URL-encoded fields (the last value of a repeated one), or else the JSON object (json_body)."""
    if _media(req) != FORM:
        return json_body(req, limit)
    try:
        text = _read_bounded(req, limit).decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("Form parse error - the body is not UTF-8") from None
    fields = falcon.uri.parse_query_string(text, keep_blank=True)
    body = {key: value[-1] if isinstance(value, list) else value for key, value in fields.items()}
    _check_values(body)
    return body


def json_body(req: falcon.Request, limit: int) -> dict:
    """The body as a JSON object: over `limit` bytes is 413, another content type 415, malformed JSON or an
    integer beyond 64 bits 400; no body at all is {}."""
    raw = _read_bounded(req, limit)
    media = _media(req)
    if not raw.strip() and not media:
        return {}
    if media != "application/json":
        raise falcon.HTTPUnsupportedMediaType(
            description=f'Unsupported media type "{req.content_type or ""}" in request.'
        )
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"JSON parse error - {exc}") from None
    except RecursionError:
        raise bad_request("JSON parse error - nested too deeply") from None
    if not isinstance(body, dict):
        raise bad_request("JSON parse error - the body must be a JSON object")
    _check_values(body)
    return body


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _check_values(body: dict) -> None:
    """400 for a value anywhere in the body that the database cannot store: an integer beyond 64 bits,
    or text (keys included) with NUL or an unpaired surrogate."""
    pending: list[tuple[str, object]] = [("", body)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(path, key)
                pending.append((f"{path}.{key}" if path else str(key), item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(path, value)
        elif isinstance(value, int) and not isinstance(value, bool) and not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise bad_request(f'Invalid JSON body - integer out of range: "{path}"')


def _check_text(path: str, text: str) -> None:
    if "\x00" in text:
        raise bad_request(f'Invalid JSON body - NUL character in text: "{path}"')
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(f'Invalid JSON body - unpaired surrogate in text: "{path}"') from None
