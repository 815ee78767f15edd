"""How Scale's UI writes some queries, accepted on the routes that get them."""

from __future__ import annotations

from typing import cast

import falcon


def drop_javascript_nulls(req: falcon.Request) -> None:
    """Where Scale's UI builds its query from a plain object, Angular writes a JavaScript null as the text "null"
    (page_size=null, group=null): on the routes that call this, such a value means "not given"."""
    params = cast(dict, req.params)  # Falcon's own dict of the parsed query
    for key in [k for k, v in params.items() if v == "null"]:
        del params[key]
