"""`cursor=` on /v6/logs/: every match, page after page, on one point-in-time (search.walk); offset paging
(page=) stays for Scale's clients, limited to the first 10,000 matches."""

from __future__ import annotations

from urllib.parse import urlencode

import falcon

from api.errors import bad_request
from api.logs.hit_links import add_hit_links
from api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, base_url
from api.params import Param
from jobs.log_target_store import LogTargetStore
from search import LogSearch
from search.cursor import InvalidCursor
from search.errors import CursorExpired
from search.finder import Filters
from search.walk import decode

START = "*"
CURSOR_PARAM = Param(
    "cursor",
    description=f"Walk every match, with no cap: {START} starts a walk, and each page's `next` link carries the "
    "cursor of the page after it (opaque: a point-in-time and the last hit's sort key). The walk reads one "
    "snapshot, so no match comes twice or is missed. `count` is the exact total; `previous` is null. A cursor "
    "expires 5 minutes after its page was served (410, whose detail holds a link to start over). Not with `page`.",
)


def cursor_page(
    req: falcon.Request,
    resp: falcon.Response,
    search: LogSearch,
    targets: LogTargetStore,
    f: Filters,
    newest_first: bool,
) -> None:
    raw = req.get_param("cursor")
    if req.get_param("page") is not None:
        raise bad_request('Parameter "cursor" cannot be combined with "page"')
    try:
        cursor = None if raw == START else decode(raw or "")
    except InvalidCursor as exc:
        raise bad_request(f'Invalid cursor for parameter "cursor": {exc}') from None
    size = page_size(req)
    try:
        total, hits, following = search.walker().page(f, size, newest_first, cursor)
    except InvalidCursor as exc:
        raise bad_request(f'Invalid cursor for parameter "cursor": {exc}') from None
    except CursorExpired as exc:
        raise CursorExpired(f"{exc}: {walk_url(req, START)}") from None
    add_hit_links(req, targets, hits)
    resp.media = {
        "count": total,
        "next": walk_url(req, following.encode()) if following else None,
        "previous": None,
        "results": hits,
    }


def page_size(req: falcon.Request) -> int:
    raw = req.get_param("page_size")
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise bad_request('Parameter must be a valid integer: "page_size"') from None
    if size < 1:
        raise bad_request('Parameter must be a valid integer: "page_size"')
    return min(size, MAX_PAGE_SIZE)


def walk_url(req: falcon.Request, cursor: str) -> str:
    query = sorted((k, v) for k, v in req.params.items() if k != "cursor")
    query.append(("cursor", cursor))
    path = getattr(req.context, "original_path", req.path)
    return f"{base_url(req)}{path}?{urlencode(query, doseq=True)}"
