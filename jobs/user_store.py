"""People: named users (staff or read-only), their personal API tokens, browser sessions and login throttling.

Passwords are argon2 hashes, tokens and session keys SHA-256 digests (jobs.credentials says why). Everything a
request needs to know who sent it (a token, a session) is one indexed lookup. Personal tokens expire, and a new
password revokes them all. Failed logins are counted per (username, client address) in the database, so the
limits hold across gunicorn workers and machines sharing it, and nobody's guesses from elsewhere can keep a user
with the right password out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.times import Clock
from jobs.credentials import digest, hash_password, new_key, new_token, verify_password
from jobs.db import Database, rowcount
from jobs.errors import Invalid, LoginRefused, LoginThrottled, NotFound
from jobs.models import ApiToken, LoginThrottle, User, UserSession
from jobs.records import NewSession, Person, TokenHolder, TokenInfo

# Django's username rule: letters, digits and @ . + - _, at most 150 characters.
USERNAME = re.compile(r"^[\w.@+-]{1,150}$", re.ASCII)
# Names the service gives to its own tokens (the admin token, READ_TOKEN): no person may take them.
RESERVED_NAMES = frozenset({"admin", "reader"})
MIN_PASSWORD = 8  # characters (NIST SP 800-63B's floor for chosen passwords)
MAX_PASSWORD = 1024  # characters; argon2 takes any length, this only bounds the work a request can ask for
USER_SCOPE, EXECUTOR_SCOPE = "user", "executor"
TOKEN_SCOPES = (USER_SCOPE, EXECUTOR_SCOPE)
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3660
MAX_NODE = 250  # nodes.hostname
SEEN_EVERY_SECONDS = 60  # how finely a session's last request is noted (the idle timeout's resolution)
MAX_NAME_FIELD = 150
MAX_EMAIL = 254


@dataclass(frozen=True)
class LoginLimits:
    """How failed logins of one username from one client address back off.

    The first `free_failures` are answered at once; after that each failure makes the pair wait before its next
    attempt is even verified: 1 s, 2 s, 4 s, ... up to `max_delay_seconds`. A pair's count is forgotten after
    `forget_seconds` without a failure, and cleared by a successful login. Only that pair waits: the same user
    from another address (the user herself, say) and other users from that address are not held back.
    """

    free_failures: int = 5
    max_delay_seconds: int = 15 * 60
    forget_seconds: int = 24 * 3600

    def delay(self, failures: int) -> int:
        """Seconds the pair waits after its `failures`-th failure."""
        if failures < self.free_failures:
            return 0
        return min(2 ** min(failures - self.free_failures, 30), self.max_delay_seconds)

    def delay_of(self, failures):
        """delay() as a SQL expression of a failure count (a CASE over its few steps), for the counting upsert."""
        steps = []
        n = self.free_failures
        while self.delay(n) < self.max_delay_seconds:
            steps.append((failures == n, self.delay(n)))
            n += 1
        return case((failures < self.free_failures, 0), *steps, else_=self.max_delay_seconds)


def check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise Invalid("Invalid username: use 1 to 150 letters, digits and @ . + - _ only")
    if username.lower() in RESERVED_NAMES:
        raise Invalid(f'Invalid username: "{username}" is reserved for the service\'s own tokens')


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"The password must be at least {MIN_PASSWORD} characters")
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
    return TokenInfo(
        id=t.id,
        username=username,
        name=t.name,
        prefix=t.prefix,
        created=t.created,
        revoked=t.revoked,
        scope=t.scope,
        node=t.node,
        expires=t.expires,
    )


class UserStore:
    def __init__(self, db: Database, clock: Clock, limits: LoginLimits | None = None):
        self._sessions = db.sessions
        self._postgres = db.postgres
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
        """A new password (None: no password login any more); every session of the user ends and every token of
        the user is revoked (whoever learnt the old password may have made one)."""
        if password is not None:
            check_password(password)
        hashed = hash_password(password) if password is not None else None
        now = self._clock()
        with self._sessions.begin() as s:
            user = self._user(s, username)
            user.password = hashed
            user.last_modified = now
            s.execute(delete(UserSession).where(UserSession.user_id == user.id))
            s.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.revoked.is_(None))
                .values(revoked=now)
                .execution_options(synchronize_session=False)
            )
            return _person(user)

    @staticmethod
    def _user(s, username: str) -> User:
        user = s.scalar(select(User).where(User.username == username).with_for_update())
        if user is None:
            raise NotFound(f"user {username}")
        return user

    # --- personal API tokens ------------------------------------------------------------------------------------

    def create_token(
        self,
        username: str,
        name: str,
        *,
        scope: str = USER_SCOPE,
        node: str | None = None,
        days: int = DEFAULT_TOKEN_DAYS,
    ) -> tuple[str, TokenInfo]:
        """A new token for the user, valid `days` days: (the token, shown this once; what is kept of it).

        scope "user" acts as the user; "executor" may only start, update and finish executions and send their
        log lines (a read-only user's reads besides), and with a node only for that node's executions."""
        if not name or len(name) > 100:
            raise Invalid("A token name is 1 to 100 characters")
        if scope not in TOKEN_SCOPES:
            raise Invalid(f"A token's scope is one of {', '.join(TOKEN_SCOPES)}")
        if node is not None and (scope != EXECUTOR_SCOPE or not node or len(node) > MAX_NODE):
            raise Invalid(f"Only an executor token is bound to a node, a name of 1 to {MAX_NODE} characters")
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise Invalid(f"A token is valid for 1 to {MAX_TOKEN_DAYS} days")
        token = new_token()
        now = self._clock()
        with self._sessions.begin() as s:
            user = self._user(s, username)
            row = ApiToken(
                user_id=user.id,
                name=name,
                digest=digest(token),
                prefix=token[:12],
                created=now,
                revoked=None,
                scope=scope,
                node=node,
                expires=now + timedelta(days=days),
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

    def holder_of_token(self, token: str) -> TokenHolder | None:
        """The active user whose unrevoked, unexpired token this is, with the token's scope; or None."""
        with self._sessions() as s:
            found = s.execute(
                select(User, ApiToken.scope, ApiToken.node)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(
                    ApiToken.digest == digest(token),
                    ApiToken.revoked.is_(None),
                    ApiToken.expires > self._clock(),
                    User.is_active.is_(True),
                )
            ).first()
            return TokenHolder(_person(found[0]), found[1], found[2]) if found else None

    # --- logins and sessions ------------------------------------------------------------------------------------

    def log_in(self, username: str, password: str, address: str, session_seconds: float) -> NewSession:
        """Check a password login and open a session.

        Raises LoginThrottled when this username failed too often lately from this address (counted before the
        password is verified, so a throttled guess is never verified), LoginRefused when the user is unknown,
        disabled or the password wrong (each costing one argon2 verification, so the time does not tell them
        apart). A success clears the failures of the username from this address.
        """
        now = self._clock()
        # Throttling keys fit their columns; the user is looked up by the whole name (a longer one matches none).
        pair = (username[:150], address[:64])
        self._claim_attempt(*pair, now)
        with self._sessions() as s:
            user = s.scalar(select(User).where(User.username == username))
            stored = user.password if user is not None else None
        matches, needs_rehash = verify_password(stored, password)
        if user is None or not matches or not user.is_active:
            self._forget_old_failures(now)
            raise LoginRefused()
        session_key = new_key()
        expires = now + timedelta(seconds=session_seconds)
        rehashed = hash_password(password) if needs_rehash else None
        with self._sessions.begin() as s:
            s.execute(delete(UserSession).where(UserSession.expires <= now))
            s.execute(delete(LoginThrottle).where(LoginThrottle.username == pair[0], LoginThrottle.address == pair[1]))
            row = s.get(User, user.id)
            if row is None or not row.is_active:  # removed or disabled meanwhile
                raise LoginRefused()
            row.last_login = now
            if rehashed is not None:
                row.password = rehashed
            s.add(UserSession(digest=digest(session_key), user_id=row.id, created=now, expires=expires, last_seen=now))
            return NewSession(session_key, expires, _person(row))

    def person_for_session(self, key: str, idle_seconds: float | None = None) -> Person | None:
        """The active user of an unexpired session with this key, or None; with idle_seconds, a session without a
        request for that long has ended too. A request notes when the session was last seen (at most once a
        minute, so most requests write nothing)."""
        now = self._clock()
        conditions = [UserSession.digest == digest(key), UserSession.expires > now, User.is_active.is_(True)]
        if idle_seconds:
            conditions.append(UserSession.last_seen > now - timedelta(seconds=idle_seconds))
        with self._sessions() as s:
            found = s.execute(
                select(User, UserSession.id, UserSession.last_seen)
                .join(UserSession, UserSession.user_id == User.id)
                .where(*conditions)
            ).first()
            if found is None:
                return None
            user, session_id, last_seen = found
            if last_seen is None or now - last_seen >= timedelta(seconds=SEEN_EVERY_SECONDS):
                s.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen=now))
                s.commit()
            return _person(user)

    def log_out(self, key: str) -> bool:
        """End the session with this key; False if there was none."""
        with self._sessions.begin() as s:
            return rowcount(s.execute(delete(UserSession).where(UserSession.digest == digest(key)))) > 0

    def _claim_attempt(self, username: str, address: str, now: datetime) -> None:
        """Count this attempt as a failure of the pair before its password is verified, in one upsert that only
        succeeds once the pair's wait is over (a success deletes the row). Concurrent guesses can't all pass a
        check before any of them is counted: each increments the row, and the first past the free failures sets
        the wait that refuses the others. LoginThrottled (with the seconds left) when the pair must still wait."""
        limits = self.limits
        at = now.timestamp()
        forgotten = now - timedelta(seconds=limits.forget_seconds)
        failures = case(
            (LoginThrottle.last_failure <= forgotten, 1),
            else_=LoginThrottle.failures + 1,
        )
        insert = (postgresql.insert if self._postgres else sqlite.insert)(LoginThrottle)
        claim = (
            insert.values(
                username=username, address=address, failures=1, retry_at=at + limits.delay(1), last_failure=now
            )
            .on_conflict_do_update(
                index_elements=[LoginThrottle.username, LoginThrottle.address],
                set_={"failures": failures, "retry_at": at + limits.delay_of(failures), "last_failure": now},
                where=LoginThrottle.retry_at <= at,
            )
            .returning(LoginThrottle.failures)
        )
        with self._sessions.begin() as s:
            if s.execute(claim).first() is not None:
                return
            retry_at = s.scalar(
                select(LoginThrottle.retry_at).where(
                    LoginThrottle.username == username, LoginThrottle.address == address
                )
            )
        raise LoginThrottled(max(1, math.ceil((retry_at or at) - at)))

    def _forget_old_failures(self, now: datetime) -> None:
        since = now - timedelta(seconds=self.limits.forget_seconds)
        with self._sessions.begin() as s:
            s.execute(delete(LoginThrottle).where(LoginThrottle.last_failure <= since))


def _check_profile(first_name: str, last_name: str, email: str) -> None:
    if len(first_name) > MAX_NAME_FIELD or len(last_name) > MAX_NAME_FIELD:
        raise Invalid(f"First and last names are at most {MAX_NAME_FIELD} characters")
    if len(email) > MAX_EMAIL or (email and "@" not in email):
        raise Invalid("Invalid email address")
