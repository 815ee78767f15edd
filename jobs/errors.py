"""What the jobs package raises when a request can't be done; the API maps each to one HTTP status
(api/errors.py: Invalid 400, NotFound 404, Forbidden 403, JobStateConflict 409, LoginRefused 401, LoginThrottled 429).
str(exc) is safe to show a client."""

from __future__ import annotations


class Invalid(ValueError):
    """The input breaks a rule of Scale's (a manifest, Data, a configuration, a filter)."""


class NotFound(LookupError):
    """The named object does not exist."""


class Forbidden(PermissionError):
    """The caller sees the object but may not change it (another's saved search or alert)."""


class JobStateConflict(Exception):
    """The job or execution is not in a state that allows the change; str(exc) explains it."""


class LoginRefused(Exception):
    """A login failed: unknown user, wrong password or disabled account (one answer for all three)."""


class LoginThrottled(Exception):
    """Too many failed logins of this username from this client address lately; retry after `retry_after` s."""

    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after
