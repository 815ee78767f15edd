"""The log viewer (/logs/{id}) and the search page (/search), and their static files (/viewer/{name}, and the
vendored toolkits under /viewer/vendor/{name}), from api/viewer/."""

from __future__ import annotations

from pathlib import Path

import falcon

from api.auth import Access
from api.errors import not_found
from api.logs.log_params import TEXT
from api.routing import Operation, Response
from api.schemas import ERROR
from jobs.log_target_store import LogTargetStore

VIEWER = Path(__file__).resolve().parent / "viewer"
ASSET_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# The pages run only their own scripts and never render log text as markup; this backs that up. data: images are
# the CSS toolkit's own icons (select arrows, checkmarks), written inline in its stylesheet.
VIEWER_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:"


def page_operations(summary: str) -> dict[str, Operation]:
    """GET of an HTML page: the page, or in READ_TOKEN mode without a session the login page with its 401."""
    return {
        "GET": Operation(
            summary,
            responses={
                200: Response("HTML page", {"text/html": TEXT}),
                401: Response(
                    "Not logged in (READ_TOKEN mode): a browser gets the login page",
                    {"text/html": TEXT, "application/json": ERROR},
                ),
            },
            tags=("logs",),
        )
    }


class ViewerPage:
    # In READ_TOKEN mode a browser without a session gets the login page (api/viewer/login.html) with its 401.
    access = Access.PAGE
    operations = page_operations("The log viewer page of one execution")

    def __init__(self, log_targets: LogTargetStore):
        self._log_targets = log_targets

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_exe_id: int) -> None:
        if self._log_targets.execution_for_logs(job_exe_id) is None:
            raise not_found()
        serve_static(resp, "index.html")

    def login_page(self, req: falcon.Request, resp: falcon.Response) -> None:
        serve_static(resp, "login.html")


class SearchPage:
    """The search page: its query, filters and view live in its own address, so a link shares a search."""

    access = Access.PAGE
    operations = page_operations("The log search page (the filters of /v6/logs/ in its address)")

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        serve_static(resp, "search.html")

    def login_page(self, req: falcon.Request, resp: falcon.Response) -> None:
        serve_static(resp, "login.html")


class ViewerAsset:
    access = Access.PUBLIC  # the same static files for everyone; the data comes from the guarded routes
    operations = {"GET": Operation("Static files of the log viewer", responses={200: Response("The file")})}

    def __init__(self, folder: Path = VIEWER):
        self._folder = folder

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        serve_static(resp, name, self._folder)


def serve_static(resp: falcon.Response, name: str, folder: Path = VIEWER) -> None:
    path = folder / name
    if "/" in name or name.startswith(".") or path.suffix not in ASSET_TYPES or not path.is_file():
        raise not_found()
    resp.content_type = ASSET_TYPES[path.suffix]
    resp.set_header("Content-Security-Policy", VIEWER_CSP)
    resp.set_header("X-Content-Type-Options", "nosniff")
    resp.data = path.read_bytes()
