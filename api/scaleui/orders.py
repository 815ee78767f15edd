"""`order` parameters of the lists here: field names, each optionally prefixed "-" for descending."""

from __future__ import annotations

from collections.abc import Container

from api.errors import bad_request
from jobs.records import OrderKey


def parse_order(values: list[str] | None, fields: Container[str]) -> tuple[OrderKey, ...]:
    """The keys in the order given; an unknown field is a 400 naming it."""
    keys = []
    for value in values or ():
        name = value[1:] if value.startswith("-") else value
        if name not in fields:
            raise bad_request(f'Invalid order field: "{name}"')
        keys.append(OrderKey(name, value.startswith("-")))
    return tuple(keys)
