"""What the jobs package raises when a request can't be done; the API maps each to one HTTP status
(api/errors.py: Invalid 400, NotFound 404, JobStateConflict 409). str(exc) is safe to show a client."""

from __future__ import annotations


class Invalid(ValueError):
    """The input breaks a rule of Scale's (a manifest, Data, a configuration, a filter)."""


class NotFound(LookupError):
    """The named object does not exist."""


class JobStateConflict(Exception):
    """The job or execution is not in a state that allows the change; str(exc) explains it."""
