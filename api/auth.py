"""Bearer-token checks: writes need the admin token; reads need a token only in read-token mode."""

from __future__ import annotations

import hmac

import falcon

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/v6/openapi.json"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _matches(given: str, expected: str | None) -> bool:
    # compare_digest takes time independent of where the strings differ.
    if not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class TokenAuth:
    def __init__(self, admin_token: str, read_token: str | None = None):
        if not admin_token:
            raise ValueError("an admin token is required")
        self._admin = admin_token
        self._read = read_token

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.user = None  # who the request log names: "admin" or "reader" once a token matched
        is_read = req.method in READ_METHODS
        if req.path in PUBLIC_PATHS or (is_read and not self._read):
            return
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise falcon.HTTPUnauthorized(
                description="Authentication credentials were not provided.", challenges=["Bearer"]
            )
        token = token.strip()
        if _matches(token, self._admin) or (is_read and _matches(token, self._read)):
            req.context.user = "admin" if _matches(token, self._admin) else "reader"
            return
        raise falcon.HTTPForbidden(description="You do not have permission to perform this action.")
