"""Query parameters declared once and used twice: to parse requests and to document them in OpenAPI.

Messages are Scale's own (clients match on them); see ../shared/docs/scale-v6-behaviour.md section 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import falcon

from api.errors import bad_request
from core.times import parse_instant

INT64_MAX = 2**63 - 1
TIMESTAMP_SCHEMA = {"type": "string", "description": "ISO-8601 datetime with zone, or a duration such as PT3H0M0S"}
_TRUE = {"true", "t", "1"}
_FALSE = {"false", "f", "0"}


def parse_int(name: str, raw: Any, minimum: int = -INT64_MAX - 1) -> int:
    if isinstance(raw, bool):
        raise bad_request(f'Parameter must be a valid integer: "{name}"')
    try:
        value = int(str(raw).strip()) if not isinstance(raw, int) else raw
    except ValueError:
        raise bad_request(f'Parameter must be a valid integer: "{name}"') from None
    if not minimum <= value <= INT64_MAX:
        raise bad_request(f'Parameter must be a valid integer: "{name}"')
    return value


def parse_bool(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise bad_request(f'Parameter must be a valid boolean: "{name}"')


def parse_timestamp(name: str, raw: Any, now: datetime) -> datetime:
    """An ISO-8601 datetime with a zone, or a duration meaning "now minus that much" (core.times.parse_instant)."""
    try:
        return parse_instant(raw.strip() if isinstance(raw, str) else "", now)
    except ValueError:
        raise bad_request(f"Invalid ISO timestamp format for parameter: {name}") from None


def check_window(started: datetime | None, ended: datetime | None) -> None:
    if started is not None and ended is not None:
        if started == ended:
            raise bad_request("Start and end values must be different")
        if started > ended:
            raise bad_request("Start time must come before end time")


def choice_error(name: str, choices: Iterable[str]) -> falcon.HTTPError:
    return bad_request(f'Parameter "{name}" values must be one of: {list(choices)}')


@dataclass(frozen=True)
class Param:
    """One query parameter: its name, kind, whether it repeats, and its description."""

    name: str
    kind: str = "string"  # string | integer | boolean | timestamp | choice
    many: bool = False
    required: bool = False
    choices: tuple[str, ...] = ()
    description: str = ""
    minimum: int | None = None

    def convert(self, raw: str, now: datetime) -> Any:
        if "\x00" in raw:  # no database or search engine stores NUL in text
            raise bad_request(f'Parameter must not contain NUL characters: "{self.name}"')
        if self.kind == "integer":
            return parse_int(self.name, raw, self.minimum if self.minimum is not None else -INT64_MAX - 1)
        if self.kind == "boolean":
            return parse_bool(self.name, raw)
        if self.kind == "timestamp":
            return parse_timestamp(self.name, raw, now)
        if self.kind == "choice" and raw not in self.choices:
            raise choice_error(self.name, self.choices)
        return raw

    def schema(self) -> dict:
        if self.kind == "integer":
            one: dict = {"type": "integer", "maximum": INT64_MAX}
            if self.minimum is not None:
                one["minimum"] = self.minimum
        elif self.kind == "boolean":
            one = {"type": "string", "enum": ["true", "false", "t", "f", "1", "0"]}
        elif self.kind == "timestamp":
            one = TIMESTAMP_SCHEMA
        elif self.kind == "choice":
            one = {"type": "string", "enum": list(self.choices)}
        else:
            one = {"type": "string"}
        return {"type": "array", "items": one} if self.many else one


class QueryParams(Protocol):
    """What parse_query reads: a request, or a saved query string (api.logs.filters.QueryString)."""

    def get_param_as_list(self, name: str) -> list[str] | None: ...


def parse_query(req: QueryParams, params: Iterable[Param], now: Callable[[], datetime]) -> dict[str, Any]:
    """Values of the declared parameters: a list for repeating ones, None when absent."""
    current = now()
    values: dict[str, Any] = {}
    for param in params:
        raw = req.get_param_as_list(param.name)
        if not raw:
            if param.required:
                raise bad_request(f'Missing required parameter: "{param.name}"')
            values[param.name] = None
        elif param.many:
            values[param.name] = [param.convert(item, current) for item in raw]
        else:  # a repeated single-valued parameter: the last one wins
            values[param.name] = param.convert(raw[-1], current)
    return values
