"""ALERT_WEBHOOK_ALLOW matches URLs by their parts, never as text prefixes."""

from __future__ import annotations

import pytest

from alerts.allow import NotAllowed, check_webhook

ALLOW = ("https://hooks.example.com/services", "http://10.0.0.5:8080/")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/services",
        "https://hooks.example.com/services/T0/B1/xyz",
        "https://HOOKS.example.com:443/services/a",
        "http://10.0.0.5:8080/anything",
    ],
)
def test_urls_under_an_entry_are_allowed(url):
    check_webhook(url, ALLOW)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com.evil.net/services/a",  # another host that starts alike
        "https://hooks.example.com/servicesX",  # a segment that starts alike
        "http://hooks.example.com/services/a",  # another scheme
        "https://hooks.example.com:8443/services/a",  # another port
        "http://10.0.0.5/anything",  # the default port is not 8080
        "https://user:pw@hooks.example.com/services/a",
        "https://hooks.example.com/services/a#x",
        "gopher://hooks.example.com/services",
        "https://hooks.example.com/services/a b",
        "",
    ],
)
def test_others_are_refused(url):
    with pytest.raises(NotAllowed):
        check_webhook(url, ALLOW)


def test_an_empty_list_allows_nothing():
    with pytest.raises(NotAllowed):
        check_webhook("https://hooks.example.com/services/a", ())
