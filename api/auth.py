"""Who sent a request (authentication) and whether they may do it (authorization), for every route.

Credentials, first match wins:
- `Authorization: Bearer <token>`: the admin token (API_TOKEN, user "admin", staff), READ_TOKEN (user "reader",
  read-only), or a person's personal token (that person, within the token's scope). A bearer token nobody holds
  (or expired, or revoked) is 403 where a credential is needed; bearer requests never need a CSRF token (a
  browser never adds that header by itself).
- the `sessionid` cookie of a browser login (api/account_routes.py). A session's writes must carry the
  `X-CSRFToken` header (Django's convention, which Scale's UI follows, copying it from the `csrftoken` cookie)
  equal to that session's own CSRF token, an HMAC of the session's key (session_csrf_token), else 403: a token
  of another session, or one an attacker planted in the `csrftoken` cookie, is refused. A session request whose
  `csrftoken` cookie is not its own (a login made before tokens were bound) gets its own set.

Rules, by the resource's `access` (default PROTECTED): reads are public unless READ_TOKEN is set, then they need
any credential; writes need a staff credential (the admin token, or a staff person's token or session).

An executor token (scope "executor", jobs.user_store) reads like a read-only user and writes only what a
resource lists in its `executor_methods` (start, update and finish an execution, post its log lines; claim,
renew leases, recover and move through api/jobs/executor_routes.py), whoever
its owner is: a stolen executor node can't create job types, cancel or requeue. One bound to a node acts only on
that node's executions: those resources call `check_node` with the execution's node.

Sets `req.context.user` on every request: the username, "admin" for the admin token, "reader" for READ_TOKEN,
None when anonymous (request logs and metrics read it); `req.context.identity` is the full Identity or None.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum

import falcon

from jobs.records import Person
from jobs.user_store import EXECUTOR_SCOPE, UserStore

ADMIN = "admin"
READER = "reader"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "sessionid"
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "X-CSRFToken"
NO_CREDENTIALS = "Authentication credentials were not provided."
NO_PERMISSION = "You do not have permission to perform this action."
EXECUTOR_ONLY = "An executor token may only start, update and finish executions and send their log lines."
CSRF_FAILED = "CSRF Failed: CSRF token missing or incorrect."
CSRF_COOKIE_SECONDS = 365 * 24 * 3600  # Django's CSRF_COOKIE_AGE (a year); the session is what expires


class Access(Enum):
    PROTECTED = "protected"  # reads open unless READ_TOKEN is set, writes need staff
    PAGE = "page"  # PROTECTED, and a browser without a credential gets the resource's login page (401)
    SIGNED_IN = "signed in"  # any credential, read-only ones included
    OPEN = "open"  # anyone; a session's writes still need the CSRF header (logout)
    PUBLIC = "public"  # no credential is looked at (health, the OpenAPI document, the login, static files)


@dataclass(frozen=True)
class Identity:
    username: str
    is_staff: bool
    via: str  # "admin token" | "read token" | "personal token" | "executor token" | "session"
    person: Person | None = None  # the named user, for the service's own tokens None
    node: str | None = None  # an executor token bound to a node: the only node it acts for

    @property
    def executor(self) -> bool:
        return self.via == "executor token"


def bound_node(req: falcon.Request) -> str | None:
    """The node the request's executor token is bound to, if it is."""
    identity: Identity | None = req.context.identity
    return identity.node if identity is not None else None


def check_node(req: falcon.Request, node: str | None) -> None:
    """403 unless the request's credential may act on an execution of `node` (only a node-bound executor token
    may not, for another node's)."""
    identity: Identity | None = req.context.identity
    if identity is not None and identity.node is not None and identity.node != node:
        raise falcon.HTTPForbidden(description=f"This executor token acts only on executions of node {identity.node}.")


def _same(given: str, expected: str | None) -> bool:
    # compare_digest takes time independent of where the strings differ.
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def bearer_token(req: falcon.Request) -> str | None:
    """The token of an `Authorization: Bearer` header; None without one (another scheme is no credential)."""
    scheme, _, token = (req.get_header("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def client_address(req: falcon.Request, trust_forwarded_for: bool) -> str:
    """The client's address (login throttling, long-read caps): the peer's, or behind a trusted proxy
    (TRUST_X_FORWARDED_FOR) the last X-Forwarded-For entry."""
    if trust_forwarded_for:
        forwarded = [a.strip() for a in (req.get_header("X-Forwarded-For") or "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1]  # what our own proxy saw; the entries before it are the client's word
    return req.remote_addr or "unknown"


def cookie(req: falcon.Request, name: str) -> str | None:
    values = req.get_cookie_values(name)
    return values[0] if values else None


def csrf_ok(req: falcon.Request, submitted: str | None = None) -> bool:
    """Before a login: the CSRF token sent (the X-CSRFToken header, or `submitted` from a form) equals the csrftoken
    cookie (the double-submit check; there is no session to bind it to yet)."""
    given = submitted if submitted is not None else req.get_header(CSRF_HEADER)
    return _same(given or "", cookie(req, CSRF_COOKIE))


def session_csrf_token(session_key: str) -> str:
    """The CSRF token of one session: an HMAC keyed with the session's secret key, so only a holder of that key
    (the browser, through the cookie the login set) knows it, and it is worth nothing in another session. It
    reveals nothing of the key, though page scripts can read it."""
    digest = hmac.new(session_key.encode("utf-8", "surrogatepass"), b"csrftoken", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def over_https(req: falcon.Request, secure_cookies: bool) -> bool:
    """Whether cookies get Secure: SECURE_COOKIES (the service is behind TLS), or the request (or the proxy in
    front, by X-Forwarded-Proto: a client can only ask for more protection with it) used HTTPS."""
    proto = (req.get_header("X-Forwarded-Proto") or req.scheme).split(",")[0].strip().lower()
    return secure_cookies or proto == "https"


def set_csrf_cookie(req: falcon.Request, resp: falcon.Response, secure_cookies: bool, token: str) -> None:
    # Not HttpOnly: the page's JavaScript reads it to send it back in the X-CSRFToken header.
    resp.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=CSRF_COOKIE_SECONDS,
        path="/",
        secure=over_https(req, secure_cookies),
        http_only=False,
        same_site="Lax",
    )


def unauthorized(detail: str = NO_CREDENTIALS) -> falcon.HTTPError:
    return falcon.HTTPUnauthorized(description=detail, challenges=["Bearer"])


def wants_html(req: falcon.Request) -> bool:
    """A browser navigating (it asks for HTML by name), not a script or an XHR."""
    return "text/html" in (req.get_header("Accept") or "")


class Auth:
    def __init__(
        self,
        users: UserStore,
        admin_token: str,
        read_token: str | None = None,
        session_idle_seconds: float = 0,
        secure_cookies: bool = False,
    ):
        if not admin_token:
            raise ValueError("an admin token is required")
        self._users = users
        self._secure_cookies = secure_cookies
        self._session_idle_seconds = session_idle_seconds
        self._admin = admin_token
        self._read = read_token

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.user = None
        req.context.identity = None

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params) -> None:
        self._check(req, resp, resource, getattr(resource, "access", Access.PROTECTED))

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource, req_succeeded: bool) -> None:
        # No route matched (Falcon skips process_resource then): a path that does not exist is guarded like one
        # that does, so an anonymous client can't tell them apart in read-token mode.
        if resource is None and resp.status_code == 404 and getattr(req.context, "identity", None) is None:
            self._check(req, resp, None, Access.PROTECTED)

    def _check(self, req: falcon.Request, resp: falcon.Response, resource, access: Access) -> None:
        # CORS preflights carry no credentials; Falcon answers OPTIONS with the allowed methods only.
        if req.method == "OPTIONS":
            return
        if access is Access.PUBLIC:
            return
        is_read = req.method in READ_METHODS
        identity, refused_token = self._identify(req)
        req.context.identity = identity
        req.context.user = identity.username if identity else None
        if identity is not None and identity.via == "session":
            bound = session_csrf_token(cookie(req, SESSION_COOKIE) or "")
            if not is_read and not _same(req.get_header(CSRF_HEADER) or "", bound):
                raise falcon.HTTPForbidden(description=CSRF_FAILED)
            if cookie(req, CSRF_COOKIE) != bound:  # give the page the token its writes need
                set_csrf_cookie(req, resp, self._secure_cookies, bound)
        if access is Access.OPEN:
            return
        if identity is None:
            needed = access is Access.SIGNED_IN or not is_read or self._read is not None
            if not needed:
                return
            if refused_token:
                raise falcon.HTTPForbidden(description=NO_PERMISSION)
            if access is Access.PAGE and wants_html(req):
                resource.login_page(req, resp)
                resp.status = falcon.HTTP_401
                resp.set_header("WWW-Authenticate", "Bearer")
                resp.complete = True
                return
            raise unauthorized()
        if is_read or access is Access.SIGNED_IN:
            return
        if identity.executor:
            if req.method not in getattr(resource, "executor_methods", ()):
                raise falcon.HTTPForbidden(description=EXECUTOR_ONLY)
            return
        if not identity.is_staff:
            raise falcon.HTTPForbidden(description=NO_PERMISSION)

    def _identify(self, req: falcon.Request) -> tuple[Identity | None, bool]:
        """(who, whether a bearer token was given that nobody holds)."""
        token = bearer_token(req)
        if token is not None:
            if _same(token, self._admin):
                return Identity(ADMIN, True, "admin token"), False
            if _same(token, self._read):
                return Identity(READER, False, "read token"), False
            holder = self._users.holder_of_token(token)
            if holder is None:
                return None, True
            owner = holder.person
            if holder.scope == EXECUTOR_SCOPE:
                return Identity(owner.username, False, "executor token", owner, holder.node), False
            return Identity(owner.username, owner.is_staff, "personal token", owner), False
        key = cookie(req, SESSION_COOKIE)
        if key:
            person = self._users.person_for_session(key, self._session_idle_seconds or None)
            if person is not None:
                return Identity(person.username, person.is_staff, "session", person), False
        return None, False
