"""Scale's page-number pagination: {"count", "next", "previous", "results"} with absolute URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import falcon

from api.errors import bad_request, not_found
from api.params import INT64_MAX, Param

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
PAGE_PARAMS = (
    Param("page", "integer", minimum=1, description="Page of the results, from 1."),
    Param("page_size", "integer", minimum=1, description="Results per page; above 1000 is clamped to 1000."),
)


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_of(req: falcon.Request) -> Page:
    """Read page and page_size. Call after the other parameters are validated (Scale's order)."""
    size_raw = req.get_param("page_size")
    size = DEFAULT_PAGE_SIZE
    if size_raw is not None:
        try:
            size = int(size_raw)
        except ValueError:
            raise bad_request('Parameter must be a valid integer: "page_size"') from None
        if size < 1:
            raise bad_request('Parameter must be a valid integer: "page_size"')
        size = min(size, MAX_PAGE_SIZE)
    number_raw = req.get_param("page")
    number = 1
    if number_raw is not None:
        try:
            number = int(number_raw)
        except ValueError:
            raise not_found("Invalid page.") from None
        # A page whose first row lies beyond any 64-bit offset cannot exist.
        if number < 1 or number > INT64_MAX // size:
            raise not_found("Invalid page.")
    return Page(number, size)


def envelope(req: falcon.Request, page: Page, count: int, results: list) -> dict:
    """The v6 envelope; a page past the end (other than page 1) is 404 "Invalid page."."""
    last = max(1, -(-count // page.size))
    if page.number > last:
        raise not_found("Invalid page.")
    return {
        "count": count,
        "next": page_url(req, page.number + 1) if page.number < last else None,
        "previous": page_url(req, page.number - 1) if page.number > 1 else None,
        "results": results,
    }


def base_url(req: falcon.Request) -> str:
    """scheme://host of the request as the client saw it (api.middleware.ScalePaths decides whether forwarded
    headers count)."""
    return getattr(req.context, "base_url", None) or f"{req.scheme}://{req.netloc}"


def page_url(req: falcon.Request, number: int) -> str:
    query = {k: v for k, v in req.params.items() if k != "page"}
    if number > 1:
        query["page"] = str(number)
    items = sorted(query.items())
    qs = urlencode(items, doseq=True)
    path = getattr(req.context, "original_path", req.path)
    return f"{base_url(req)}{path}" + (f"?{qs}" if qs else "")
