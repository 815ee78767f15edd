"""The webhook allow-list (ALERT_WEBHOOK_ALLOW): which URLs a notification may be posted to.

An entry is a URL prefix, compared by parts and not as text: the scheme and host must be equal (so
https://hooks.example.com does not admit https://hooks.example.com.evil.net), the port equal (the scheme's
default when none is written), and the path must be the entry's path or below it (a whole segment: /hooks admits
/hooks/a, not /hooksX). URLs with a user or password, a fragment, or anything but http(s) are refused.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL = 2000


class NotAllowed(ValueError):
    """str(exc) says why, without the URL (it may hold a token)."""


def _parts(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise NotAllowed("is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise NotAllowed("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise NotAllowed("must not hold a user or password")
    if parts.fragment:
        raise NotAllowed("must not have a #fragment")
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme], parts.path or "/"


def check_webhook(url: str, allowed: tuple[str, ...]) -> None:
    """Raise NotAllowed unless `url` is under one of the `allowed` prefixes."""
    if len(url) > MAX_URL:
        raise NotAllowed(f"must be at most {MAX_URL} characters")
    if any(ord(c) < 33 for c in url):
        raise NotAllowed("must not contain spaces or control characters")
    scheme, host, port, path = _parts(url)
    for entry in allowed:
        try:
            e_scheme, e_host, e_port, e_path = _parts(entry)
        except NotAllowed:
            continue  # a malformed entry admits nothing
        if (scheme, host, port) != (e_scheme, e_host, e_port):
            continue
        base = e_path.rstrip("/")
        if path == base or path.startswith(base + "/"):
            return
    raise NotAllowed("is not on the allow-list of webhook targets (ALERT_WEBHOOK_ALLOW)")
