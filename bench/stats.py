"""Small numeric helpers for benchmark figures."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary_ms(samples: list[float]) -> dict:
    return {"p50_ms": round(percentile(samples, 50), 2), "p99_ms": round(percentile(samples, 99), 2), "n": len(samples)}


def ratio(ours: float, raw: float) -> float | None:
    return round(ours / raw, 3) if raw else None


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(call: Callable[[], object]) -> float:
    """Milliseconds one call took."""
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def interleaved_latencies(
    calls: dict[str, Callable[[], object]],
    repeat: int,
    warmup: int = 3,
    budget_s: float | None = None,
    min_repeat: int = 5,
    before: Callable[[], object] | None = None,
) -> dict[str, list[float]]:
    """Latencies (ms) of each call, the calls taking turns (their order rotating) so that noise from other
    work on the machine falls on all of them alike. Stops early after budget_s (keeping >= min_repeat).
    `before`, when given, runs untimed before every timed call (e.g. emptying a cache, so each call does its work)."""
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    out: dict[str, list[float]] = {name: [] for name in names}
    began = time.monotonic()
    for i in range(repeat):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            if before is not None:
                before()
            out[name].append(timed(calls[name]))
        if budget_s is not None and i + 1 >= min_repeat and time.monotonic() - began > budget_s:
            break
    return out


def paired_ratio(ours: list[float], raw: list[float]) -> float | None:
    """Median of per-round ratios: each round's ours and raw ran next to each other, so a slow spell on the
    shared machine hits both figures of a pair (a ratio of medians could pair a fast ours with a slow raw)."""
    pairs = [o / r for o, r in zip(ours, raw) if r]
    return round(median(pairs), 3) if pairs else None


def spread(samples: list[float]) -> dict:
    """How far a few rounds lie apart: their lowest and highest, and (highest - lowest) / median, so a figure
    quoted from the median says how much one more round could move it."""
    mid = median(samples)
    return {
        "rounds": len(samples),
        "min": round(min(samples)),
        "max": round(max(samples)),
        "range_over_median": round((max(samples) - min(samples)) / mid, 3) if mid else None,
    }
