"""JSON request bodies of the job routes: JSON only, and fields checked with Scale's parameter messages."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable

import falcon

from api.errors import bad_request, conflict, not_found
from api.params import INT64_MAX, parse_bool, parse_int, parse_timestamp
from jobs.records import Invalid, JobStateConflict, NotFound

# Integer columns (priority, max_scheduled, timeout, exe_num, ...) are 32-bit on PostgreSQL.
INT32_MAX = 2**31 - 1


def json_body(req: falcon.Request, limit: int) -> dict:
    """The body as a JSON object: over `limit` bytes is 413, another content type 415, malformed JSON or an
    integer beyond 64 bits 400; no body at all is {}."""
    if req.content_length is not None and req.content_length > limit:
        raise falcon.HTTPContentTooLarge(description=f"The body is larger than {limit} bytes")
    raw = req.bounded_stream.read(limit + 1)
    if len(raw) > limit:
        raise falcon.HTTPContentTooLarge(description=f"The body is larger than {limit} bytes")
    media = (req.content_type or "").split(";")[0].strip().lower()
    if not raw.strip() and not media:
        return {}
    if media != "application/json":
        raise falcon.HTTPUnsupportedMediaType(description=f'Unsupported media type "{req.content_type or ""}" in request.')
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


def field(body: dict, name: str, convert: Callable[[str, Any], Any], required: bool = False) -> Any:
    """body[name] converted, None when absent (400 when required)."""
    if name not in body or body[name] is None:
        if required:
            raise bad_request(f'Missing required parameter: "{name}"')
        return None
    return convert(name, body[name])


def as_int(name: str, raw: Any) -> int:
    if isinstance(raw, float):  # JSON numbers with a fraction are not integers
        raise bad_request(f'Parameter must be a valid integer: "{name}"')
    return parse_int(name, raw)


def as_int32(name: str, raw: Any) -> int:
    """An integer for a 32-bit column."""
    value = as_int(name, raw)
    if not -INT32_MAX - 1 <= value <= INT32_MAX:
        raise bad_request(f'Parameter must be a valid integer: "{name}"')
    return value


def as_bool(name: str, raw: Any) -> bool:
    return parse_bool(name, raw)


def as_str(name: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise bad_request(f'Parameter must be a valid string: "{name}"')
    return raw


def as_object(name: str, raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise bad_request(f'Parameter must be a valid JSON object: "{name}"')
    return raw


def as_timestamp(now: datetime) -> Callable[[str, Any], datetime]:
    return lambda name, raw: parse_timestamp(name, raw, now)


def list_of(convert: Callable[[str, Any], Any]) -> Callable[[str, Any], list]:
    def parse(name: str, raw: Any) -> list:
        if not isinstance(raw, list):
            raise bad_request(f'Parameter must be a valid list: "{name}"')
        return [convert(name, item) for item in raw]
    return parse


def one_of(choices: tuple[str, ...], convert: Callable[[str, Any], Any] = as_str) -> Callable[[str, Any], str]:
    def parse(name: str, raw: Any) -> str:
        value = convert(name, raw)
        if value not in choices:
            raise bad_request(f'Parameter "{name}" values must be one of: {list(choices)}')
        return value
    return parse


@contextmanager
def store_errors():
    """JobStore's exceptions as HTTP errors: Invalid 400, NotFound 404, JobStateConflict 409."""
    try:
        yield
    except Invalid as exc:
        raise bad_request(str(exc)) from None
    except NotFound:
        raise not_found() from None
    except JobStateConflict as exc:
        raise conflict(str(exc)) from None
