"""Path handling shared by every route: the /v7 alias and the trailing-slash redirect."""

from __future__ import annotations

import falcon


class ScalePaths:
    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.original_path = req.path
        if req.path.startswith("/v7/"):
            req.path = "/v6/" + req.path[len("/v7/") :]
        if (
            req.method in ("GET", "HEAD")
            and req.path.startswith("/v6/")
            and not req.path.endswith("/")
            and req.path != "/v6/openapi.json"
        ):
            location = req.context.original_path + "/"
            if req.query_string:
                location += "?" + req.query_string
            raise falcon.HTTPMovedPermanently(location)
