"""A browser tab running Scale's UI, against a Falcon test client: a cookie jar, and Angular's HttpClient as the
UI configures it (Accept: application/json, text/plain, */*; JSON bodies; the XSRF interceptor that copies the
`csrftoken` cookie into `X-CSRFToken` on every mutating request to a relative URL)."""

from __future__ import annotations

ANGULAR_ACCEPT = "application/json, text/plain, */*"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class UiSession:
    def __init__(self, client, xsrf: bool = True):
        self.client = client
        self.xsrf = xsrf  # False: a client that does not copy the cookie into the header
        self.cookies: dict[str, str] = {}
        self.set_cookies: dict = {}  # the last Set-Cookie of each name (falcon.testing.Cookie)

    def request(self, method: str, path: str, json=None, headers: dict | None = None, **kwargs):
        sent = {"Accept": ANGULAR_ACCEPT}
        if self.xsrf and method in MUTATING and "csrftoken" in self.cookies:
            sent["X-CSRFToken"] = self.cookies["csrftoken"]
        sent.update(headers or {})
        result = self.client.simulate_request(
            method, path, json=json, headers=sent, cookies=dict(self.cookies), **kwargs
        )
        for name, cookie in result.cookies.items():
            self.set_cookies[name] = cookie
            if cookie.value == "" or cookie.max_age == 0:
                self.cookies.pop(name, None)  # deleted (expired) by the server
            else:
                self.cookies[name] = cookie.value
        return result

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def log_in(self, username: str, password: str, login_url: str = "/v6/accounts/login/"):
        """The UI's sequence after its profile request failed: GET the login URL (CSRF cookie), then POST."""
        assert self.get(login_url).status_code == 200
        return self.post(login_url, json={"username": username, "password": password})
