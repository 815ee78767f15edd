"""Attacks on browser sessions: a CSRF token from one session replayed in another (before, any csrftoken cookie
matched by the same header passed, so a token planted in the victim's cookie jar, from a sibling subdomain or
an earlier session, was as good as the victim's own), and session cookies sent over plain HTTP."""

from __future__ import annotations

from api.auth import CSRF_FAILED
from tests.factories import manifest
from tests.ui_session import UiSession

LOGIN = "/v6/accounts/login/"
PASSWORD = "correct horse battery"


def test_a_csrf_token_of_another_session_is_refused(make_client, stores):
    for name in ("alice", "mallory"):
        stores.users.add_user(name, PASSWORD, is_staff=True)
    client = make_client()
    victim, attacker = UiSession(client), UiSession(client)
    assert victim.log_in("alice", PASSWORD).status_code == 200
    assert attacker.log_in("mallory", PASSWORD).status_code == 200
    known = attacker.cookies["csrftoken"]  # the attacker's own, valid, token
    body = {"docker_image": "img:1", "manifest": manifest("planted")}
    # The victim's browser with the attacker's token in its cookie jar and in the header.
    r = client.simulate_post(
        "/v6/job-types/",
        json=body,
        headers={"X-CSRFToken": known},
        cookies={"sessionid": victim.cookies["sessionid"], "csrftoken": known},
    )
    assert (r.status_code, r.json["detail"]) == (403, CSRF_FAILED)
    # The same with any token the attacker made up (the double-submit check alone let both through).
    made_up = "m" * 43
    r = client.simulate_post(
        "/v6/job-types/",
        json=body,
        headers={"X-CSRFToken": made_up},
        cookies={"sessionid": victim.cookies["sessionid"], "csrftoken": made_up},
    )
    assert (r.status_code, r.json["detail"]) == (403, CSRF_FAILED)
    # The victim's own page still works, and its token changes with its session.
    assert victim.post("/v6/job-types/", json=body).status_code == 201
    assert victim.cookies["csrftoken"] != known


def test_an_old_sessions_page_gets_its_bound_token(make_client, stores):
    """A session whose csrftoken cookie is not its own (a login made before tokens were bound) is given its own
    on its next request, so its writes work again without logging in."""
    stores.users.add_user("alice", PASSWORD, is_staff=True)
    client = make_client()
    ui = UiSession(client)
    assert ui.log_in("alice", PASSWORD).status_code == 200
    ui.cookies["csrftoken"] = "o" * 43
    assert ui.post("/v6/accounts/logout/").status_code == 403
    assert ui.get("/v6/accounts/profile/").status_code == 200
    assert ui.cookies["csrftoken"] != "o" * 43
    assert ui.post("/v6/accounts/logout/").status_code == 204


def test_session_cookies_are_secure_over_https_or_behind_tls(make_client, stores):
    stores.users.add_user("alice", PASSWORD, is_staff=True)
    for client, kwargs, secure in (
        (make_client(), {}, False),  # plain HTTP, as `make run` serves on loopback
        (make_client(), {"protocol": "https"}, True),  # gunicorn serving HTTPS itself
        (make_client(), {"headers": {"X-Forwarded-Proto": "https"}}, True),  # a proxy that says so
        (make_client(secure_cookies=True), {}, True),  # SECURE_COOKIES=1: behind TLS, whatever is said
    ):
        ui = UiSession(client)
        assert ui.get(LOGIN, **kwargs).status_code == 200
        r = ui.post(LOGIN, json={"username": "alice", "password": PASSWORD}, **kwargs)
        assert r.status_code == 200
        cookies = ui.set_cookies
        assert (cookies["sessionid"].secure, cookies["csrftoken"].secure) == (secure, secure), kwargs
        assert cookies["sessionid"].http_only and cookies["sessionid"].same_site == "Lax"
