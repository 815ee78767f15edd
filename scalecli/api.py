"""The service's HTTP API as the commands use it: one httpx client, errors carrying the service's `detail`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from httpx_sse import EventSource, connect_sse

USER_AGENT = "scale-cli/1"


class ApiError(Exception):
    """The service answered an error (its `detail` and request id), or could not be reached."""

    def __init__(self, message: str, status: int | None = None, request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message + (f" (request id {self.request_id})" if self.request_id else "")


def error_of(response: httpx.Response) -> ApiError:
    """The service's own words for an error answer: {"detail": ..., "request_id": ...}."""
    request_id = response.headers.get("X-Request-ID")
    detail = None
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = body.get("detail")
            request_id = body.get("request_id") or request_id
    except ValueError:  # not JSON (a proxy's page, say): the status says enough
        pass
    message = f"{response.status_code} {detail or response.reason_phrase}"
    return ApiError(message, response.status_code, request_id)


class Api:
    def __init__(self, url: str, token: str | None, timeout: float = 30.0):
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The response of a request that succeeded (2xx); ApiError otherwise."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach {self.url}: {exc}") from None
        if response.is_error:
            raise error_of(response)
        return response

    def get_json(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params).json()

    def download(self, path: str, params: Any, out: Any) -> int:
        """Stream a response body into the binary file `out` as it comes; the bytes written."""
        written = 0
        try:
            with self._http.stream("GET", path, params=params, timeout=httpx.Timeout(self._http.timeout.connect)) as r:
                if r.is_error:
                    r.read()
                    raise error_of(r)
                for chunk in r.iter_bytes():
                    out.write(chunk)
                    written += len(chunk)
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach {self.url}: {exc}") from None
        return written

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, json=body).json()

    @contextmanager
    def events(self, path: str, params: Any, last_event_id: str | None, read_timeout: float) -> Iterator[EventSource]:
        """A Server-Sent Events stream; raises ApiError for an error answer, httpx.TransportError when the
        connection fails (the caller decides whether to reconnect)."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        timeout = httpx.Timeout(self._http.timeout.connect, read=read_timeout)
        with connect_sse(self._http, "GET", path, params=params, headers=headers, timeout=timeout) as source:
            if source.response.is_error:
                source.response.read()
                raise error_of(source.response)
            yield source
