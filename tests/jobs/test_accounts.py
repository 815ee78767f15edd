"""Named users and Scale's form login, replayed the way Scale's UI (Angular) sends it: profile -> 401, GET the
login URL for the csrftoken cookie, POST the JSON login with X-CSRFToken, profile fields, writes with and
without the header, logout. Bearer tokens (admin, READ_TOKEN, personal) keep working without CSRF.

Every response is validated against the served OpenAPI document (tests/jobs/contract.py)."""

from __future__ import annotations

import statistics
import time

import pytest

from api.auth import CSRF_FAILED
from jobs.errors import Invalid, LoginRefused
from tests.conftest import request_lines
from tests.jobs.helpers import add_job_type, manifest, queue
from tests.ui_session import UiSession

LOGIN = "/v6/accounts/login/"
PROFILE = "/v6/accounts/profile/"
LOGOUT = "/v6/accounts/logout/"
PASSWORDS = {"alice": "alice's long passphrase", "bob": "bob-reads-only", "carol": "carol pw"}
REFUSED = {"detail": "Invalid username/password."}


@pytest.fixture
def people(stores):
    """alice (staff), bob (read-only), carol (staff, disabled)."""
    stores.users.add_user(
        "alice", PASSWORDS["alice"], is_staff=True, first_name="Alice", last_name="Liddell", email="alice@example.org"
    )
    stores.users.add_user("bob", PASSWORDS["bob"])
    stores.users.add_user("carol", PASSWORDS["carol"], is_staff=True)
    stores.users.update_user("carol", is_active=False)
    return stores.users


@pytest.fixture
def job(api, auth):
    job_type = add_job_type(api, auth, manifest(files=()))
    return queue(api, auth, job_type["id"], {})


def event_users(stores, job_id: int) -> list[tuple[str, dict]]:
    return [(e.type, e.description) for e in stores.jobs.job_events(job_id)]


def test_the_ui_login_sequence_cookies_csrf_and_logout(api, people, job, stores, clock):
    ui = UiSession(api)
    # 1. The app starts: its profile request fails, so it fetches the login URL for the CSRF cookie.
    r = ui.get(PROFILE)
    assert r.status_code == 401 and r.json == {
        "detail": "Authentication credentials were not provided.",
        "request_id": r.headers["X-Request-ID"],
    }
    r = ui.get(LOGIN)
    assert r.status_code == 200 and r.json == {"csrf_cookie": "csrftoken", "csrf_header": "X-CSRFToken"}
    csrf = ui.set_cookies["csrftoken"]
    assert not csrf.http_only and csrf.same_site == "Lax" and csrf.path == "/" and not csrf.secure
    assert len(csrf.value) >= 32
    # 2. The footer form POSTs {username, password} as JSON; Angular adds X-CSRFToken from the cookie.
    r = ui.post(LOGIN, json={"username": "alice", "password": PASSWORDS["alice"]})
    assert r.status_code == 200, r.json
    expected = {
        "id": r.json["id"],
        "username": "alice",
        "email": "alice@example.org",
        "first_name": "Alice",
        "last_name": "Liddell",
        "is_staff": True,
    }
    assert r.json == expected
    session = ui.set_cookies["sessionid"]
    assert session.http_only and session.same_site == "Lax" and session.path == "/" and not session.secure
    assert session.max_age == 12 * 3600 and session.expires is not None
    assert ui.cookies["csrftoken"] != csrf.value  # a new CSRF token with the new session
    assert PASSWORDS["alice"] not in r.text and "argon2" not in r.text
    # 3. The profile now answers; the UI reads is_staff, first_name, last_name.
    r = ui.get(PROFILE)
    assert r.status_code == 200 and r.json == expected
    # 4. Writes carry X-CSRFToken (Angular's interceptor) and record who did them.
    r = ui.post("/v6/jobs/cancel/", json={"job_ids": [job["id"]], "url": "/v6/jobs/cancel/"})
    assert r.status_code == 202 and r.json == {"matched": 1}
    assert event_users(stores, job["id"]) == [("USER", {"user": "admin"}), ("CANCEL", {"user": "alice"})]
    # ... and without the header (or with another token) a session's write is refused.
    bare = UiSession(api, xsrf=False)
    bare.cookies = dict(ui.cookies)
    r = bare.post("/v6/jobs/requeue/", json={"job_ids": [job["id"]]})
    assert r.status_code == 403 and r.json == {"detail": CSRF_FAILED, "request_id": r.headers["X-Request-ID"]}
    r = bare.post("/v6/jobs/requeue/", json={"job_ids": [job["id"]]}, headers={"X-CSRFToken": "x" * 43})
    assert r.status_code == 403 and r.json == {"detail": CSRF_FAILED, "request_id": r.headers["X-Request-ID"]}
    assert stores.jobs.get_job(job["id"]).job["status"] == "CANCELED"  # nothing was requeued
    r = ui.post("/v6/jobs/requeue/", json={"job_ids": [job["id"]], "status": "CANCELED"})
    assert r.status_code == 202 and r.json == {"matched": 1}
    assert event_users(stores, job["id"])[-1] == ("REQUEUE", {"user": "alice"})
    # Logging in again replaces the session this browser had.
    first = ui.cookies["sessionid"]
    assert ui.log_in("alice", PASSWORDS["alice"]).status_code == 200 and ui.cookies["sessionid"] != first
    assert api.simulate_get(PROFILE, cookies={"sessionid": first}).status_code == 401
    # 5. Logout ends the session on the server too: the old cookie no longer works.
    old = ui.cookies["sessionid"]
    r = ui.post(LOGOUT)
    assert r.status_code == 204 and "sessionid" not in ui.cookies
    assert ui.get(PROFILE).status_code == 401
    r = api.simulate_get(PROFILE, cookies={"sessionid": old})
    assert r.status_code == 401


def test_jobs_created_through_a_session_or_a_token_record_who(api, auth, people, stores):
    job_type = add_job_type(api, auth, manifest(files=()))
    ui = UiSession(api)
    assert ui.log_in("alice", PASSWORDS["alice"]).status_code == 200
    r = ui.post("/v6/jobs/", json={"job_type_id": job_type["id"], "input": {}})
    assert r.status_code == 201, r.json
    assert event_users(stores, r.json["id"]) == [("USER", {"user": "alice"})]
    assert r.json["event"]["type"] == "USER"
    token, _ = people.create_token("alice", "script")
    r = api.simulate_post(
        "/v6/jobs/", json={"job_type_id": job_type["id"], "input": {}}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 201
    assert event_users(stores, r.json["id"]) == [("USER", {"user": "alice"})]
    r = api.simulate_post("/v6/jobs/", json={"job_type_id": job_type["id"], "input": {}}, headers=auth)
    assert event_users(stores, r.json["id"]) == [("USER", {"user": "admin"})]


def test_bearer_tokens_need_no_csrf_and_win_over_a_session(api, auth, people, job, stores):
    ui = UiSession(api, xsrf=False)
    assert ui.log_in("bob", PASSWORDS["bob"]).status_code == 403  # no X-CSRFToken on the login either
    ui.xsrf = True
    assert ui.log_in("bob", PASSWORDS["bob"]).status_code == 200
    ui.xsrf = False
    # bob's session is read-only, but the admin token in the same request is what counts (and needs no CSRF).
    r = ui.post("/v6/jobs/cancel/", json={"job_ids": [job["id"]]}, headers=auth)
    assert r.status_code == 202 and r.json == {"matched": 1}
    assert event_users(stores, job["id"])[-1] == ("CANCEL", {"user": "admin"})
    r = api.simulate_get(PROFILE, headers=auth)
    assert r.json == {"id": None, "username": "admin", "email": "", "first_name": "", "last_name": "", "is_staff": True}


def test_personal_tokens_staff_read_only_revoked_and_disabled(api, people, job, stores):
    alice, alice_info = people.create_token("alice", "laptop")
    bob, _ = people.create_token("bob", "dashboards")
    assert alice.startswith("scale_") and len(alice) > 40 and alice_info.prefix == alice[:12]
    as_alice, as_bob = ({"Authorization": f"Bearer {t}"} for t in (alice, bob))
    assert api.simulate_get(PROFILE, headers=as_bob).json["username"] == "bob"
    assert api.simulate_get("/v6/jobs/", headers=as_bob).status_code == 200
    r = api.simulate_post("/v6/jobs/cancel/", json={"job_ids": [job["id"]]}, headers=as_bob)
    assert r.status_code == 403 and r.json == {
        "detail": "You do not have permission to perform this action.",
        "request_id": r.headers["X-Request-ID"],
    }
    r = api.simulate_post("/v6/jobs/cancel/", json={"job_ids": [job["id"]]}, headers=as_alice)
    assert r.status_code == 202 and event_users(stores, job["id"])[-1] == ("CANCEL", {"user": "alice"})
    # Revoked: refused like any token nobody holds.
    people.revoke_token(alice_info.id)
    nobody = api.simulate_get(PROFILE, headers={"Authorization": "Bearer scale_nobody-holds-this"})
    assert nobody.status_code == 403 and set(nobody.json) == {"detail", "request_id"}
    for r in (
        api.simulate_post("/v6/jobs/cancel/", json={}, headers=as_alice),
        api.simulate_get(PROFILE, headers=as_alice),
    ):
        assert r.status_code == 403 and r.json == {**nobody.json, "request_id": r.headers["X-Request-ID"]}
    # Disabled: the user's tokens stop working at once, with the same answer.
    people.update_user("bob", is_active=False)
    r = api.simulate_get(PROFILE, headers=as_bob)
    assert r.status_code == 403 and r.json == {**nobody.json, "request_id": r.headers["X-Request-ID"]}
    # Only a digest is stored: the token itself is nowhere in the database.
    with stores.db.engine.connect() as c:
        dumped = "\n".join(str(row) for row in c.exec_driver_sql("SELECT * FROM api_tokens"))
    assert alice not in dumped and bob not in dumped and alice_info.prefix in dumped


def test_read_only_sessions_read_but_may_not_write(api, people, job):
    ui = UiSession(api)
    r = ui.log_in("bob", PASSWORDS["bob"])
    assert r.status_code == 200 and r.json["is_staff"] is False
    assert ui.get(f"/v6/jobs/{job['id']}/").status_code == 200
    for path, body in (
        ("/v6/jobs/cancel/", {"job_ids": [job["id"]]}),
        ("/v6/jobs/", {"job_type_id": 1, "input": {}}),
        ("/v6/job-types/", {}),
    ):
        r = ui.post(path, json=body)
        assert r.status_code == 403 and r.json == {
            "detail": "You do not have permission to perform this action.",
            "request_id": r.headers["X-Request-ID"],
        }
    assert ui.post(LOGOUT).status_code == 204  # anyone may log out


def test_failed_logins_get_one_answer_and_disabled_users_cannot_log_in(api, people):
    ui = UiSession(api)
    ui.get(LOGIN)
    answers = [
        ui.post(LOGIN, json=body)
        for body in (
            {"username": "nobody", "password": "whatever"},  # unknown user
            {"username": "alice", "password": "wrong"},  # wrong password
            {"username": "carol", "password": PASSWORDS["carol"]},  # disabled, right password
            {"username": "ALICE", "password": PASSWORDS["alice"]},  # usernames are case-sensitive
        )
    ]
    for r in answers:
        assert r.status_code == 401 and r.json == {**REFUSED, "request_id": r.headers["X-Request-ID"]}
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert "sessionid" not in r.cookies
    assert "sessionid" not in ui.cookies
    # Disabling a user ends the sessions they have.
    assert ui.log_in("alice", PASSWORDS["alice"]).status_code == 200
    assert ui.get(PROFILE).status_code == 200
    people.update_user("alice", is_active=False)
    assert ui.get(PROFILE).status_code == 401
    people.update_user("alice", is_active=True)
    assert ui.get(PROFILE).status_code == 401  # ended, not suspended
    # A password reset ends them as well, and the old password stops working.
    assert ui.log_in("alice", PASSWORDS["alice"]).status_code == 200
    people.set_password("alice", "a new one")
    assert ui.get(PROFILE).status_code == 401
    assert ui.post(LOGIN, json={"username": "alice", "password": PASSWORDS["alice"]}).status_code == 401
    assert ui.post(LOGIN, json={"username": "alice", "password": "a new one"}).status_code == 200


def test_login_bodies_csrf_and_form_encoding(api, people):
    # No csrftoken cookie at all: refused before anything is checked.
    r = api.simulate_post(LOGIN, json={"username": "alice", "password": PASSWORDS["alice"]})
    assert r.status_code == 403 and r.json == {"detail": CSRF_FAILED, "request_id": r.headers["X-Request-ID"]}
    ui = UiSession(api)
    ui.get(LOGIN)
    token = ui.cookies["csrftoken"]
    for body, detail in (
        ({"password": "x"}, 'Missing required parameter: "username"'),
        ({"username": "alice"}, 'Missing required parameter: "password"'),
        ({"username": 5, "password": "x"}, 'Parameter must be a valid string: "username"'),
    ):
        r = ui.post(LOGIN, json=body)
        assert r.status_code == 400 and r.json == {"detail": detail, "request_id": r.headers["X-Request-ID"]}
    assert ui.post(LOGIN, body="x" * 20000, headers={"Content-Type": "application/json"}).status_code == 413
    # An HTML form: URL-encoded fields, the CSRF token in Django's csrfmiddlewaretoken field.
    form = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": ""}
    body = f"username=alice&password=alice%27s+long+passphrase&csrfmiddlewaretoken={token}"
    r = api.simulate_post(LOGIN, body=body, headers=form, cookies={"csrftoken": token})
    assert r.status_code == 200 and r.json["username"] == "alice"
    r = api.simulate_post(LOGIN, body=body.replace(token, "x" * 43), headers=form, cookies={"csrftoken": token})
    assert r.status_code == 403 and r.json == {"detail": CSRF_FAILED, "request_id": r.headers["X-Request-ID"]}
    # A second GET keeps a valid cookie rather than replacing it (two tabs share it).
    again = ui.get(LOGIN)
    assert "csrftoken" not in again.cookies and ui.cookies["csrftoken"] == token


def test_logins_back_off_per_username_and_address(api, people, clock):
    ui = UiSession(api)
    ui.get(LOGIN)
    limits = people.limits
    attacker = "203.0.113.9"
    for _ in range(limits.free_failures):
        r = ui.post(LOGIN, json={"username": "alice", "password": "guess"}, remote_addr=attacker)
        assert r.status_code == 401
    # Past the free failures the pair waits 1 s, then 2 s, 4 s, ... before a guess is even verified.
    r = ui.post(LOGIN, json={"username": "alice", "password": PASSWORDS["alice"]}, remote_addr=attacker)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json == {
        "detail": "Too many failed logins. Try again in 1 seconds.",
        "request_id": r.headers["X-Request-ID"],
    }
    clock.advance(seconds=1)
    assert ui.post(LOGIN, json={"username": "alice", "password": "guess"}, remote_addr=attacker).status_code == 401
    r = ui.post(LOGIN, json={"username": "alice", "password": "guess"}, remote_addr=attacker)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    for wait in (2, 4, 8, 16):
        clock.advance(seconds=wait)
        assert ui.post(LOGIN, json={"username": "alice", "password": "guess"}, remote_addr=attacker).status_code == 401
        r = ui.post(LOGIN, json={"username": "alice", "password": "guess"}, remote_addr=attacker)
        assert r.status_code == 429 and r.headers["Retry-After"] == str(wait * 2)
    # Meanwhile alice, from her own address, logs in at once: only the attacker's pair waits.
    assert ui.post(LOGIN, json={"username": "alice", "password": PASSWORDS["alice"]}).status_code == 200
    # ... and other users from the attacker's address are not held back either.
    r = ui.post(LOGIN, json={"username": "bob", "password": PASSWORDS["bob"]}, remote_addr=attacker)
    assert r.status_code == 200
    # An unknown user is throttled exactly like a known one (the same answers, the same waits).
    for _ in range(limits.free_failures):
        r = ui.post(LOGIN, json={"username": "nobody", "password": "guess"}, remote_addr=attacker)
        assert r.status_code == 401 and r.json["detail"] == REFUSED["detail"]
    r = ui.post(LOGIN, json={"username": "nobody", "password": "guess"}, remote_addr=attacker)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    # The wait never grows past max_delay_seconds.
    assert limits.delay(1000) == limits.max_delay_seconds


def test_a_successful_login_clears_the_failures(api, people, clock):
    ui = UiSession(api)
    ui.get(LOGIN)
    limits = people.limits
    for _ in range(limits.free_failures - 1):
        assert ui.post(LOGIN, json={"username": "alice", "password": "typo"}).status_code == 401
    assert ui.post(LOGIN, json={"username": "alice", "password": PASSWORDS["alice"]}).status_code == 200
    # The count started again: as many free failures as before, then the first wait.
    for _ in range(limits.free_failures):
        assert ui.post(LOGIN, json={"username": "alice", "password": "typo"}).status_code == 401
    r = ui.post(LOGIN, json={"username": "alice", "password": "typo"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"


def test_failures_are_forgotten_after_a_quiet_day(api, people, clock):
    ui = UiSession(api)
    ui.get(LOGIN)
    limits = people.limits
    for _ in range(limits.free_failures):
        assert ui.post(LOGIN, json={"username": "bob", "password": "typo"}).status_code == 401
    clock.advance(seconds=limits.forget_seconds)
    for _ in range(limits.free_failures - 1):
        assert ui.post(LOGIN, json={"username": "bob", "password": "typo"}).status_code == 401
    assert ui.post(LOGIN, json={"username": "bob", "password": PASSWORDS["bob"]}).status_code == 200


def test_the_proxy_address_counts_only_when_trusted(make_client, people):
    behind_proxy = UiSession(make_client(trust_forwarded_for=True))
    behind_proxy.get(LOGIN)
    for _ in range(people.limits.free_failures):
        headers = {"X-Forwarded-For": "spoofed, 192.0.2.1"}
        assert behind_proxy.post(LOGIN, json={"username": "bob", "password": "x"}, headers=headers).status_code == 401
    r = behind_proxy.post(
        LOGIN,
        json={"username": "bob", "password": PASSWORDS["bob"]},
        headers={"X-Forwarded-For": "anything, 192.0.2.1"},
    )
    assert r.status_code == 429  # the proxy's entry is the address, whatever the client wrote before it
    r = behind_proxy.post(
        LOGIN,
        json={"username": "bob", "password": PASSWORDS["bob"]},
        headers={"X-Forwarded-For": "192.0.2.1, 192.0.2.2"},
    )
    assert r.status_code == 200
    # Not trusted (the default): the header is ignored and the peer address is what counts.
    direct = UiSession(make_client())
    direct.get(LOGIN)
    r = direct.post(
        LOGIN, json={"username": "bob", "password": PASSWORDS["bob"]}, headers={"X-Forwarded-For": "192.0.2.1"}
    )
    assert r.status_code == 200


def test_sessions_expire(make_client, people, clock):
    ui = UiSession(make_client(session_seconds=600))
    r = ui.log_in("alice", PASSWORDS["alice"])
    assert ui.set_cookies["sessionid"].max_age == 600
    clock.advance(seconds=599)
    assert ui.get(PROFILE).status_code == 200
    clock.advance(seconds=1)
    assert ui.get(PROFILE).status_code == 401
    assert r.status_code == 200


@pytest.mark.parametrize(
    "changes, headers, secure",
    [
        ({}, {}, False),
        ({}, {"X-Forwarded-Proto": "https"}, True),
        ({"secure_cookies": True}, {}, True),
    ],
)
def test_cookies_are_secure_over_https(make_client, people, changes, headers, secure):
    ui = UiSession(make_client(**changes))
    ui.get(LOGIN, headers=headers)
    assert (
        ui.post(LOGIN, json={"username": "alice", "password": PASSWORDS["alice"]}, headers=headers).status_code == 200
    )
    assert ui.set_cookies["sessionid"].secure is secure and ui.set_cookies["csrftoken"].secure is secure


def test_read_token_mode_reads_need_a_token_or_a_session(make_client, people, job):
    client = make_client(read_token="the-read-token")
    ui = UiSession(client)
    assert ui.get("/v6/jobs/").status_code == 401
    assert ui.get(PROFILE).status_code == 401
    assert ui.get(LOGIN).status_code == 200  # the login itself is open
    assert ui.log_in("bob", PASSWORDS["bob"]).status_code == 200
    assert ui.get("/v6/jobs/").json["count"] == 1
    r = client.simulate_get(PROFILE, headers={"Authorization": "Bearer the-read-token"})
    assert r.json["username"] == "reader" and r.json["is_staff"] is False


def test_cors_for_allowed_origins_only(make_client, people):
    client = make_client(allowed_origins=("https://ui.example.org",), read_token="r")
    preflight = {
        "Origin": "https://ui.example.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-csrftoken",
    }
    r = client.simulate_options("/v6/jobs/cancel/", headers=preflight)
    assert r.status_code == 200  # no credential needed for a preflight, even in read-token mode
    assert r.headers["Access-Control-Allow-Origin"] == "https://ui.example.org"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"] == "content-type, x-csrftoken"
    r = client.simulate_get("/v6/jobs/", headers={"Origin": "https://ui.example.org", "Authorization": "Bearer r"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://ui.example.org"
    r = client.simulate_options("/v6/jobs/cancel/", headers={**preflight, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    assert (
        "Access-Control-Allow-Origin"
        not in make_client().simulate_get("/v6/jobs/", headers={"Origin": "https://ui.example.org"}).headers
    )


def test_no_password_token_or_cookie_reaches_a_log_or_an_error_body(make_client, people, log_stream):
    client = make_client(read_token="the-read-token")
    token, _ = people.create_token("alice", "t")
    secrets = [PASSWORDS["alice"], "wrong password 123", token]
    # Every record at DEBUG as the service writes it: JSON lines with each record's extra fields (path, user...).
    stream = log_stream("DEBUG")
    ui = UiSession(client)
    bodies = [ui.post(LOGIN, json={"username": "alice", "password": "wrong password 123"}).text]
    ui.get(LOGIN)
    bodies.append(ui.post(LOGIN, json={"username": "alice", "password": "wrong password 123"}).text)
    bodies.append(ui.post(LOGIN, json={"username": "alice", "password": PASSWORDS["alice"]}).text)
    secrets += [ui.cookies["sessionid"], ui.cookies["csrftoken"]]
    bodies.append(client.simulate_get(PROFILE, headers={"Authorization": f"Bearer {token}x"}).text)
    bodies.append(ui.post("/v6/jobs/", json={"input": {}}).text)
    logged = stream.getvalue()
    assert len(request_lines(stream)) >= 6  # the requests were logged, extra fields and all
    for secret in secrets:
        assert secret not in logged
        for body in bodies:
            assert secret not in body


def test_the_request_log_names_the_user(make_client, people, auth, log_stream):
    """The request log (and metrics) name the user: the username, "admin", "reader" or None."""
    stream = log_stream()
    client = make_client(read_token="the-read-token")
    token, _ = people.create_token("bob", "t")
    client.simulate_get("/v6/jobs/", headers=auth)
    client.simulate_get("/v6/jobs/", headers={"Authorization": "Bearer the-read-token"})
    client.simulate_get("/v6/jobs/", headers={"Authorization": f"Bearer {token}"})
    client.simulate_get("/v6/jobs/")
    ui = UiSession(client)
    ui.log_in("alice", PASSWORDS["alice"])
    ui.get("/v6/jobs/")
    # Only /v6/jobs/: not the login's requests nor the contract check's own reads of the OpenAPI document.
    seen = [line["user"] for line in request_lines(stream) if line["path"] == "/v6/jobs/"]
    assert seen == ["admin", "reader", "bob", None, "alice"]


def test_usernames_and_passwords_are_checked(people):
    for bad in ("", "a b", "x" * 151, "admin", "Reader", "ALICE", "é"):
        with pytest.raises(Invalid):
            people.add_user(bad, "pw")
    with pytest.raises(Invalid):
        people.add_user("dave", "")
    # A name longer than any username never matches the user its first 150 characters name.
    people.add_user("x" * 150, "long name's password")
    with pytest.raises(LoginRefused):
        people.log_in("x" * 151, "long name's password", "127.0.0.1", 60)
    assert people.log_in("x" * 150, "long name's password", "127.0.0.1", 60).person.username == "x" * 150
    dave = people.add_user("dave", None)
    assert dave.has_password is False and dave.is_staff is False
    with pytest.raises(LoginRefused):
        people.log_in("dave", "", "127.0.0.1", 60)


def test_an_unknown_user_costs_as_long_as_a_wrong_password(api, people, clock):
    """No user enumeration by timing: an unknown username is verified against a dummy argon2 hash, so its 401
    takes about as long as a wrong password's. A fast path for unknown users would answer in a fraction of
    that (no argon2 at all: a database lookup), far outside 0.5-2x. This is a timing ratio, so made robust: the
    two kinds of login interleaved (in alternating order), many of each, medians compared, the throttle
    windows passed (frozen clock) so every attempt is verified."""
    ui = UiSession(api)
    ui.get(LOGIN)
    kinds = {
        "unknown user": {"username": "nobody", "password": "guess"},
        "wrong password": {"username": "alice", "password": "guess"},
    }
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for attempt in range(-1, 16):  # attempt -1 warms up (the dummy hash is made once, on first use)
        for kind in sorted(kinds, reverse=attempt % 2 == 1):
            began = time.perf_counter()
            r = ui.post(LOGIN, json=kinds[kind])
            elapsed = time.perf_counter() - began
            assert r.status_code == 401 and r.json == {**REFUSED, "request_id": r.headers["X-Request-ID"]}
            if attempt >= 0:
                times[kind].append(elapsed)
        clock.advance(seconds=people.limits.forget_seconds + 1)  # no failure counts towards a throttle any more
    ratio = statistics.median(times["unknown user"]) / statistics.median(times["wrong password"])
    medians = {kind: round(statistics.median(t) * 1000, 1) for kind, t in times.items()}
    assert 0.5 <= ratio <= 2, f"median ms {medians}: ratio {ratio:.2f}"


def test_an_idle_session_ends(api, people, clock):
    ui = UiSession(api)
    assert ui.log_in("bob", PASSWORDS["bob"]).status_code == 200
    # Each request within the idle timeout (2 h by default) keeps the session going...
    for _ in range(3):
        clock.advance(seconds=2 * 3600 - 30)
        assert ui.get(PROFILE).status_code == 200
    # ... and one after 2 h without any finds it ended (though SESSION_SECONDS, 12 h, has not run out).
    clock.advance(seconds=2 * 3600 + 1)
    assert ui.get(PROFILE).status_code == 401
