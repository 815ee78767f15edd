"""Scale's status and category names. StrEnums, so a typo fails at import time, while every value still
compares, stores and serializes as Scale's plain string."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "PENDING"
    BLOCKED = "BLOCKED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"


class ExecutionStatus(StrEnum):
    """RUNNING until the execution ends, then how it ended."""

    RUNNING = "RUNNING"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"


class ErrorCategory(StrEnum):
    SYSTEM = "SYSTEM"
    DATA = "DATA"
    ALGORITHM = "ALGORITHM"


# The plain strings, in Scale's order: for choices, schemas and messages (which quote them as strings).
JOB_STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)
EXE_STATUSES: tuple[str, ...] = tuple(s.value for s in ExecutionStatus)
ERROR_CATEGORIES: tuple[str, ...] = tuple(c.value for c in ErrorCategory)
# How an execution (and a job's try) can end.
END_STATUSES: tuple[str, ...] = (
    ExecutionStatus.COMPLETED.value,
    ExecutionStatus.FAILED.value,
    ExecutionStatus.CANCELED.value,
)
