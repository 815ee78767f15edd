"""People: named users (staff or read-only), their personal API tokens, browser sessions and login throttling.

Passwords are argon2 hashes, tokens and session keys SHA-256 digests (jobs.credentials says why). Everything a
request needs to know who sent it (a token, a session) is one indexed lookup. Failed logins are rows, so the
limits hold across gunicorn workers and machines sharing the database.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from core.times import Clock
from jobs.credentials import digest, hash_password, new_key, new_token, verify_password
from jobs.db import Database, rowcount
from jobs.errors import Invalid, LoginRefused, LoginThrottled, NotFound
from jobs.models import ApiToken, LoginFailure, User, UserSession
from jobs.records import NewSession, Person, TokenInfo

# Django's username rule: letters, digits and @ . + - _, at most 150 characters.
USERNAME = re.compile(r"^[\w.@+-]{1,150}$", re.ASCII)
# Names the service gives to its own tokens (the admin token, READ_TOKEN): no person may take them.
RESERVED_NAMES = frozenset({"admin", "reader"})
MAX_PASSWORD = 1024  # characters; argon2 takes any length, this only bounds the work a request can ask for
MAX_NAME_FIELD = 150
MAX_EMAIL = 254


@dataclass(frozen=True)
class LoginLimits:
    """Failed logins allowed within `window_seconds` before further attempts are refused (429)."""

    per_username: int = 10
    per_address: int = 30
    window_seconds: int = 15 * 60


def check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise Invalid("Invalid username: use 1 to 150 letters, digits and @ . + - _ only")
    if username.lower() in RESERVED_NAMES:
        raise Invalid(f'Invalid username: "{username}" is reserved for the service\'s own tokens')


def check_password(password: str) -> None:
    if not password:
        raise Invalid("The password must not be empty")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"The password must be at most {MAX_PASSWORD} characters")


def _person(u: User) -> Person:
    return Person(
        id=u.id,
        username=u.username,
        first_name=u.first_name,
        last_name=u.last_name,
        email=u.email,
        is_staff=u.is_staff,
        is_active=u.is_active,
        has_password=u.password is not None,
        date_joined=u.date_joined,
        last_login=u.last_login,
    )


def _token_info(t: ApiToken, username: str) -> TokenInfo:
    return TokenInfo(id=t.id, username=username, name=t.name, prefix=t.prefix, created=t.created, revoked=t.revoked)


class UserStore:
    def __init__(self, db: Database, clock: Clock, limits: LoginLimits | None = None):
        self._sessions = db.sessions
        self._clock = clock
        self.limits = limits or LoginLimits()

    # --- people -----------------------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str | None,
        *,
        is_staff: bool = False,
        first_name: str = "",
        last_name: str = "",
        email: str = "",
    ) -> Person:
        """A new active user; without a password the user can only use personal tokens. Invalid if taken."""
        check_username(username)
        _check_profile(first_name, last_name, email)
        if password is not None:
            check_password(password)
        hashed = hash_password(password) if password is not None else None
        now = self._clock()
        with self._sessions.begin() as s:
            if s.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
                raise Invalid(f'A user named "{username}" already exists')
            user = User(
                username=username,
                password=hashed,
                first_name=first_name,
                last_name=last_name,
                email=email,
                is_staff=is_staff,
                is_active=True,
                date_joined=now,
                last_login=None,
                last_modified=now,
            )
            s.add(user)
            s.flush()
            return _person(user)

    def list_users(self) -> list[Person]:
        with self._sessions() as s:
            return [_person(u) for u in s.scalars(select(User).order_by(User.username))]

    def get_user(self, username: str) -> Person | None:
        with self._sessions() as s:
            user = s.scalar(select(User).where(User.username == username))
            return _person(user) if user else None

    def update_user(
        self,
        username: str,
        *,
        is_staff: bool | None = None,
        is_active: bool | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
    ) -> Person:
        """Change the given fields; disabling a user also ends their sessions. NotFound for an unknown user."""
        _check_profile(first_name or "", last_name or "", email or "")
        changes = {
            k: v
            for k, v in dict(
                is_staff=is_staff, is_active=is_active, first_name=first_name, last_name=last_name, email=email
            ).items()
            if v is not None
        }
        with self._sessions.begin() as s:
            user = self._user(s, username)
            for key, value in changes.items():
                setattr(user, key, value)
            user.last_modified = self._clock()
            if is_active is False:
                s.execute(delete(UserSession).where(UserSession.user_id == user.id))
            return _person(user)

    def set_password(self, username: str, password: str | None) -> Person:
        """A new password (None: no password login any more); every session of the user ends."""
        if password is not None:
            check_password(password)
        hashed = hash_password(password) if password is not None else None
        with self._sessions.begin() as s:
            user = self._user(s, username)
            user.password = hashed
            user.last_modified = self._clock()
            s.execute(delete(UserSession).where(UserSession.user_id == user.id))
            return _person(user)

    @staticmethod
    def _user(s, username: str) -> User:
        user = s.scalar(select(User).where(User.username == username).with_for_update())
        if user is None:
            raise NotFound(f"user {username}")
        return user

    # --- personal API tokens ------------------------------------------------------------------------------------

    def create_token(self, username: str, name: str) -> tuple[str, TokenInfo]:
        """A new token for the user: (the token, shown this once; what is kept of it)."""
        if not name or len(name) > 100:
            raise Invalid("A token name is 1 to 100 characters")
        token = new_token()
        with self._sessions.begin() as s:
            user = self._user(s, username)
            row = ApiToken(
                user_id=user.id, name=name, digest=digest(token), prefix=token[:12], created=self._clock(), revoked=None
            )
            s.add(row)
            s.flush()
            return token, _token_info(row, user.username)

    def list_tokens(self, username: str | None = None) -> list[TokenInfo]:
        stmt = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
        if username is not None:
            stmt = stmt.where(User.username == username)
        with self._sessions() as s:
            return [_token_info(t, name) for t, name in s.execute(stmt)]

    def revoke_token(self, token_id: int) -> TokenInfo:
        now = self._clock()
        with self._sessions.begin() as s:
            s.execute(
                update(ApiToken)
                .where(ApiToken.id == token_id, ApiToken.revoked.is_(None))
                .values(revoked=now)
                .execution_options(synchronize_session=False)
            )
            found = s.execute(
                select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).where(ApiToken.id == token_id)
            ).first()
            if found is None:
                raise NotFound(f"token {token_id}")
            return _token_info(*found)

    def person_for_token(self, token: str) -> Person | None:
        """The active user whose unrevoked token this is, or None."""
        with self._sessions() as s:
            user = s.scalar(
                select(User)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(ApiToken.digest == digest(token), ApiToken.revoked.is_(None), User.is_active.is_(True))
            )
            return _person(user) if user else None

    # --- logins and sessions ------------------------------------------------------------------------------------

    def log_in(self, username: str, password: str, address: str, session_seconds: float) -> NewSession:
        """Check a password login and open a session.

        Raises LoginThrottled when this username or address failed too often lately (checked first, so a
        throttled guess is never verified), LoginRefused when the user is unknown, disabled or the password is
        wrong (each costing one argon2 verification, so the time does not tell them apart).
        """
        now = self._clock()
        # Throttling keys fit their columns; the user is looked up by the whole name (a longer one matches none).
        key, address = username[:150], address[:64]
        self._check_throttle(key, address, now)
        with self._sessions() as s:
            user = s.scalar(select(User).where(User.username == username))
            stored = user.password if user is not None else None
        matches, needs_rehash = verify_password(stored, password)
        if user is None or not matches or not user.is_active:
            self._record_failure(key, address, now)
            raise LoginRefused()
        key = new_key()
        expires = now + timedelta(seconds=session_seconds)
        rehashed = hash_password(password) if needs_rehash else None
        with self._sessions.begin() as s:
            s.execute(delete(UserSession).where(UserSession.expires <= now))
            s.execute(delete(LoginFailure).where(LoginFailure.username == key))
            row = s.get(User, user.id)
            if row is None or not row.is_active:  # removed or disabled meanwhile
                raise LoginRefused()
            row.last_login = now
            if rehashed is not None:
                row.password = rehashed
            s.add(UserSession(digest=digest(key), user_id=row.id, created=now, expires=expires))
            return NewSession(key, expires, _person(row))

    def person_for_session(self, key: str) -> Person | None:
        """The active user of an unexpired session with this key, or None."""
        with self._sessions() as s:
            user = s.scalar(
                select(User)
                .join(UserSession, UserSession.user_id == User.id)
                .where(UserSession.digest == digest(key), UserSession.expires > self._clock(), User.is_active.is_(True))
            )
            return _person(user) if user else None

    def log_out(self, key: str) -> bool:
        """End the session with this key; False if there was none."""
        with self._sessions.begin() as s:
            return rowcount(s.execute(delete(UserSession).where(UserSession.digest == digest(key)))) > 0

    def _check_throttle(self, username: str, address: str, now: datetime) -> None:
        limits = self.limits
        since = now - timedelta(seconds=limits.window_seconds)
        waits = []
        with self._sessions() as s:
            for column, value, limit in (
                (LoginFailure.username, username, limits.per_username),
                (LoginFailure.address, address, limits.per_address),
            ):
                recent = select(LoginFailure.occurred).where(column == value, LoginFailure.occurred > since)
                count = s.scalar(select(func.count()).select_from(recent.subquery())) or 0
                if count >= limit:
                    # Attempts are allowed again once enough of these failures are older than the window.
                    freed = s.scalar(recent.order_by(LoginFailure.occurred).offset(count - limit).limit(1))
                    if freed is not None:
                        waits.append((freed - since).total_seconds())
        if waits:
            raise LoginThrottled(max(1, math.ceil(max(waits))))

    def _record_failure(self, username: str, address: str, now: datetime) -> None:
        since = now - timedelta(seconds=self.limits.window_seconds)
        with self._sessions.begin() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.occurred <= since))
            s.add(LoginFailure(username=username, address=address, occurred=now))


def _check_profile(first_name: str, last_name: str, email: str) -> None:
    if len(first_name) > MAX_NAME_FIELD or len(last_name) > MAX_NAME_FIELD:
        raise Invalid(f"First and last names are at most {MAX_NAME_FIELD} characters")
    if len(email) > MAX_EMAIL or (email and "@" not in email):
        raise Invalid("Invalid email address")
