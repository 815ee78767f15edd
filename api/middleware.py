"""Path handling shared by every route: the /v7 alias, the trailing-slash redirect, and the base URL (scheme and
host) that links and Location headers are written with."""

from __future__ import annotations

import falcon


class ScalePaths:
    def __init__(self, trust_forwarded_host: bool = False):
        self._trust_forwarded_host = trust_forwarded_host

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.original_path = req.path
        req.context.base_url = base_url_of(req, self._trust_forwarded_host)
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


def base_url_of(req: falcon.Request, trust_forwarded_host: bool) -> str:
    """scheme://host as the client saw it: X-Forwarded-Proto/-Host only from a proxy we trust (TRUST_X_FORWARDED_HOST),
    else the request's own (a client's X-Forwarded-Host would poison the links and Location headers we write)."""
    proto, host = req.scheme, req.netloc
    if trust_forwarded_host:
        proto = (req.get_header("X-Forwarded-Proto") or proto).split(",")[0].strip()
        host = (req.get_header("X-Forwarded-Host") or host).split(",")[0].strip()
    return f"{proto}://{host}"


# HTML (the log viewer, its login form, format=html log bodies): our own scripts and styles only, plus the
# inline <style> of format=html; no plugins, no <base>, forms post only here. Everything else (JSON, text, NDJSON,
# SSE) is never a document: nothing may load from it. Neither may be framed (clickjacking the login form).
HTML_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders:
    """Headers every response gets: no MIME sniffing (a log line must never be run as HTML or script), a Content
    Security Policy by kind of body, no framing; and, with CORS on, `Vary: Origin` so that a cache never hands
    one origin's answer (with its Access-Control-Allow-Origin) to another."""

    def __init__(self, cors: bool = False):
        self._cors = cors

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("X-Frame-Options", "DENY")
        own = resp.get_header("Content-Security-Policy")  # the viewer's pages set a stricter one of their own
        if own:
            if "frame-ancestors" not in own:
                resp.set_header("Content-Security-Policy", f"{own}; frame-ancestors 'none'")
        else:
            html = (resp.content_type or "").startswith("text/html")
            resp.set_header("Content-Security-Policy", HTML_POLICY if html else OTHER_POLICY)
        if self._cors:
            resp.append_header("Vary", "Origin")
