"""Browser logins as Scale's UI does them (authSchemeType "form"), with Django's conventions:

1. GET  /v6/accounts/profile/  -> 401 while nobody is logged in (the UI then shows its login form);
2. GET  /v6/accounts/login/    -> sets the `csrftoken` cookie (readable by JavaScript, SameSite=Lax);
3. POST /v6/accounts/login/    {"username", "password"} as JSON (or an HTML form) with the `X-CSRFToken` header
   (a form may send the `csrfmiddlewaretoken` field instead) equal to that cookie -> the profile, an HttpOnly
   `sessionid` cookie that expires after SESSION_SECONDS, and a new `csrftoken` bound to the new session
   (api.auth.session_csrf_token);
4. every write then sends `X-CSRFToken` (api/auth.py checks it against the session); POST
   /v6/accounts/logout/ ends the session.

A failed login is 401 with one answer whether the user is unknown, disabled or the password wrong; a username
that failed too often from one client address waits (429 with Retry-After) before it is tried again from there
(jobs/user_store.py keeps the counts and says how they back off).
"""

from __future__ import annotations

import re

import falcon

from api.auth import (
    CSRF_COOKIE,
    CSRF_FAILED,
    CSRF_HEADER,
    SESSION_COOKIE,
    Access,
    Identity,
    client_address,
    cookie,
    csrf_ok,
    over_https,
    session_csrf_token,
    set_csrf_cookie,
)
from api.bodies import STRING, Body, Field
from api.routing import Operation, Response, json_response
from api.schemas import ERROR, ERROR_413, ERROR_415, component
from core.times import Clock
from jobs.credentials import new_key
from jobs.records import Person
from jobs.user_store import UserStore
from settings import Settings

N_INT = {"type": ["integer", "null"]}
STR = {"type": "string"}
LOGIN_BODY_LIMIT = 16 * 1024  # a username and a password: anything larger is not a login
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")

PROFILE = component(
    "UserProfile",
    {
        "type": "object",
        "properties": {
            "id": N_INT,
            "username": STR,
            "email": STR,
            "first_name": STR,
            "last_name": STR,
            "is_staff": {"type": "boolean"},
        },
        "required": ["id", "username", "email", "first_name", "last_name", "is_staff"],
        "additionalProperties": False,
    },
)
LOGIN_INFO = component(
    "LoginInfo",
    {
        "type": "object",
        "properties": {"csrf_cookie": STR, "csrf_header": STR},
        "required": ["csrf_cookie", "csrf_header"],
    },
)
LOGIN = Body(
    "Login",
    (
        Field("username", STRING, required=True),
        Field("password", STRING, required=True),
        # An HTML form's alternative to the X-CSRFToken header (Django's field name).
        Field("csrfmiddlewaretoken", STRING),
    ),
)
ERROR_401 = json_response(ERROR, "Not logged in, or a wrong username or password", headers=("WWW-Authenticate",))
ERROR_403 = json_response(ERROR, "The CSRF token is missing or differs from the csrftoken cookie")


def profile(identity: Identity) -> dict:
    """Scale's UserAccount fields, never the password; the service's own tokens have no id or names."""
    p: Person | None = identity.person
    return {
        "id": p.id if p else None,
        "username": identity.username,
        "email": p.email if p else "",
        "first_name": p.first_name if p else "",
        "last_name": p.last_name if p else "",
        "is_staff": identity.is_staff,
    }


class Profile:
    access = Access.SIGNED_IN
    operations = {
        "GET": Operation(
            "Who is logged in (Scale's accounts/profile); 401 when nobody is",
            tags=("accounts",),
            responses={200: json_response(PROFILE), 401: ERROR_401, 403: json_response(ERROR, "Unknown token")},
        )
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = profile(req.context.identity)


class Login:
    access = Access.PUBLIC
    operations = {
        "GET": Operation(
            "Set the csrftoken cookie that the login POST must send back in X-CSRFToken",
            tags=("accounts",),
            responses={200: json_response(LOGIN_INFO, headers=("Set-Cookie",))},
        ),
        "POST": Operation(
            "Log in with a username and password (JSON, or an HTML form); opens a session (the sessionid cookie)",
            body=LOGIN.ref,
            tags=("accounts",),
            responses={
                200: json_response(PROFILE, "Logged in", headers=("Set-Cookie",)),
                401: ERROR_401,
                403: ERROR_403,
                413: ERROR_413,
                415: ERROR_415,
                429: json_response(ERROR, "Too many failed logins lately", headers=("Retry-After",)),
            },
        ),
    }

    def __init__(self, users: UserStore, settings: Settings, clock: Clock):
        self._users = users
        self._settings = settings
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        token = cookie(req, CSRF_COOKIE)
        if not token or not TOKEN_SHAPE.match(token):
            set_csrf_cookie(req, resp, self._settings.secure_cookies, new_key())
        resp.media = {"csrf_cookie": CSRF_COOKIE, "csrf_header": CSRF_HEADER}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = LOGIN.read(req, LOGIN_BODY_LIMIT, self._clock(), forms=True)
        if not csrf_ok(req, req.get_header(CSRF_HEADER) or body["csrfmiddlewaretoken"]):
            raise falcon.HTTPForbidden(description=CSRF_FAILED)
        session = self._users.log_in(
            body["username"],
            body["password"],
            client_address(req, self._settings.trust_forwarded_for),
            self._settings.session_seconds,
        )
        previous = cookie(req, SESSION_COOKIE)
        if previous:  # logging in again (maybe as someone else) ends the session this browser had
            self._users.log_out(previous)
        secure = over_https(req, self._settings.secure_cookies)
        resp.set_cookie(
            SESSION_COOKIE,
            session.key,
            expires=session.expires,
            max_age=int(self._settings.session_seconds),
            path="/",
            secure=secure,
            http_only=True,
            same_site="Lax",
        )
        # A new CSRF token, bound to the new session (Django rotates it at login too).
        set_csrf_cookie(req, resp, self._settings.secure_cookies, session_csrf_token(session.key))
        resp.media = profile(Identity(session.person.username, session.person.is_staff, "session", session.person))


class Logout:
    access = Access.OPEN
    operations = {
        "POST": Operation(
            "End this browser's session (its sessionid cookie); a session must send X-CSRFToken",
            tags=("accounts",),
            responses={
                204: Response("Logged out (or there was no session)", headers=("Set-Cookie",)),
                403: ERROR_403,
            },
        )
    }

    def __init__(self, users: UserStore):
        self._users = users

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        key = cookie(req, SESSION_COOKIE)
        if key:
            self._users.log_out(key)
            resp.unset_cookie(SESSION_COOKIE, path="/")
        resp.status = falcon.HTTP_204
