"""Deterministic benchmark data: log lines of realistic sizes, and a million jobs of Scale's shape.

Everything comes from random.Random(seed), so two runs (and ours/raw within one run) see the same data.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

NS = 1_000_000_000
BASE_NS = 1_700_000_000 * NS  # 2023-11-14T22:13:20Z: every generated line is on or after this instant
COMMON_WORD = "status"  # in about half the lines
RARE_WORD = "xylophonic"  # in one line of each RARE_EVERY
RARE_EVERY = 1_000_003

_SYLLABLES = ["ka", "lo", "mi", "ne", "tor", "vex", "ul", "dra", "sen", "pio", "qua", "rix", "bel", "fon", "gi", "zu"]
_LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARNING", "ERROR"]


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    words.discard(COMMON_WORD)
    words.discard(RARE_WORD)
    return sorted(words)


def _length(rng: random.Random) -> int:
    """Bytes of one message: mostly short, a long tail (stack traces, JSON dumps)."""
    roll = rng.random()
    if roll < 0.60:
        return rng.randint(30, 120)
    if roll < 0.90:
        return rng.randint(120, 300)
    if roll < 0.99:
        return rng.randint(300, 1000)
    return rng.randint(1000, 4000)


def message_pool(seed: int = 6, size: int = 8192) -> list[str]:
    """Distinct message shapes, picked from by every generator below (mean ~170 bytes)."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    pool = []
    for i in range(size):
        target = _length(rng)
        parts = [f"{rng.choice(_LEVELS)} [{rng.choice(vocab)}.{rng.choice(vocab)}]"]
        if i % 2 == 0:
            parts.append(COMMON_WORD)
        size_now = sum(len(p) + 1 for p in parts)
        while size_now < target:
            word = rng.choice(vocab) if rng.random() < 0.85 else f"{rng.randint(0, 99999)}"
            parts.append(word)
            size_now += len(word) + 1
        pool.append(" ".join(parts))
    return pool


class Lines:
    """The n-th line of a deterministic stream: pool message, its number, the rare word every RARE_EVERY lines."""

    def __init__(self, seed: int = 6):
        self.pool = message_pool(seed)
        self.rng = random.Random(seed + 1)

    def message(self, n: int) -> str:
        text = self.pool[(n * 2654435761) % len(self.pool)]
        if n % RARE_EVERY == 7:
            return f"{text} {RARE_WORD} n={n}"
        return f"{text} n={n}"

    def raw_output(self, first: int, count: int) -> bytes:
        """`count` lines as a program would print them (newline-terminated)."""
        return ("\n".join(self.message(n) for n in range(first, first + count)) + "\n").encode()


def iso_ns(ns: int) -> str:
    seconds, fraction = divmod(ns, NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


# --- jobs ----------------------------------------------------------------------------------------------------

JOB_TYPES = 20  # names, with 1-3 versions each
STATUS_WEIGHTS = (
    ("COMPLETED", 70),
    ("FAILED", 10),
    ("QUEUED", 8),
    ("RUNNING", 5),
    ("CANCELED", 4),
    ("PENDING", 2),
    ("BLOCKED", 1),
)
SENSOR_CLASSES = [f"class-{i}" for i in range(5)]
SENSORS = [f"sensor-{i:02d}" for i in range(20)]
COLLECTIONS = [f"collection-{i}" for i in range(10)]
TASKS = [f"task-{i}" for i in range(10)]
JOBS_BASE = datetime(2024, 1, 1, tzinfo=UTC)
JOBS_SPAN_DAYS = 180


def manifest(name: str, version: str) -> dict:
    return {
        "seedVersion": "1.0.0",
        "job": {
            "name": name,
            "jobVersion": version,
            "packageVersion": "1.0.0",
            "title": name.replace("-", " ").title(),
            "description": f"Benchmark job type {name}",
            "timeout": 3600,
            "interface": {"command": "run", "inputs": {"json": [{"name": "x", "type": "integer", "required": False}]}},
            "errors": [{"code": 1, "name": f"{name}-bad-input", "title": "Bad input", "category": "data"}],
        },
    }


def job_rows(
    count: int,
    type_revs: list[tuple[int, int]],
    node_ids: list[int],
    error_ids: list[int],
    event_ids: list[int],
    batch_ids: list[int],
    seed: int = 60,
) -> Iterator[dict]:
    """`count` jobs rows for jobs.models.Job.__table__ (no id: the database numbers them 1..count)."""
    rng = random.Random(seed)
    statuses = [s for s, w in STATUS_WEIGHTS for _ in range(w)]
    span = JOBS_SPAN_DAYS * 86400
    for i in range(count):
        job_type_id, rev_id = type_revs[rng.randrange(len(type_revs))] if i % 7 else type_revs[i % 3]
        status = statuses[rng.randrange(len(statuses))]
        created = JOBS_BASE + timedelta(seconds=span * i / count + rng.random())
        queued = created + timedelta(seconds=rng.randint(0, 60))
        started = ended = node = error = None
        if status in ("RUNNING", "COMPLETED", "FAILED") or (status == "CANCELED" and rng.random() < 0.5):
            started = queued + timedelta(seconds=rng.randint(1, 600))
            node = node_ids[rng.randrange(len(node_ids))]
        if status in ("COMPLETED", "FAILED", "CANCELED"):
            ended = (started or queued) + timedelta(seconds=rng.randint(5, 7200), microseconds=rng.randrange(10**6))
        if status == "FAILED":
            error = error_ids[rng.randrange(len(error_ids))]
        last = ended or started or queued
        has_source = rng.random() < 0.3
        src_start = created - timedelta(hours=rng.randint(1, 48)) if has_source else None
        yield {
            "job_type_id": job_type_id,
            "job_type_rev_id": rev_id,
            "event_id": event_ids[i % len(event_ids)],
            "recipe_id": None,
            "batch_id": batch_ids[i % len(batch_ids)] if i % 10 == 0 else None,
            "is_superseded": False,
            "superseded_job_id": None,
            "superseded": None,
            "status": status,
            "node_id": node,
            "error_id": error,
            "max_tries": 3,
            "num_exes": 1 if started else 0,
            "priority": rng.choice((100, 100, 100, 50, 200)),
            "timeout": 3600,
            "input": {"files": {}, "json": {"x": i}},
            "input_file_size": round(rng.random() * 100, 3),
            "output": {"files": {}, "json": {}} if status == "COMPLETED" else None,
            "configuration": None,
            "source_started": src_start,
            "source_ended": src_start + timedelta(hours=1) if src_start is not None else None,
            "source_sensor_class": rng.choice(SENSOR_CLASSES) if has_source else None,
            "source_sensor": rng.choice(SENSORS) if has_source else None,
            "source_collection": rng.choice(COLLECTIONS) if has_source else None,
            "source_task": rng.choice(TASKS) if has_source else None,
            "created": created,
            "queued": queued,
            "started": started,
            "ended": ended,
            "last_status_change": last,
            "last_modified": last,
        }
