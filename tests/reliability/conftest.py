"""Reliability suite: short variants by default (fit in CI), long ones with `--long`.

`--long` never hides a test: it only changes sizes and durations (fuzz examples, soak minutes, lines shipped).
Every test records its figures (requests fuzzed, faults injected and survived, lines shipped vs found, soak
latencies); they are printed at the end of the run and written to tests/reliability/last_figures.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import DATABASE_URL

HERE = Path(__file__).resolve().parent
_FIGURES = pytest.StashKey[dict]()


def pytest_configure(config) -> None:
    config.stash[_FIGURES] = {}


def is_long(config) -> bool:
    # RELIABILITY_LONG=1 also works when the option cannot be given (e.g. `make test` from the repo root).
    return bool(config.getoption("--long", default=False)) or os.environ.get("RELIABILITY_LONG") == "1"


@pytest.fixture(scope="session")
def long_run(request) -> bool:
    return is_long(request.config)


@pytest.fixture(scope="session")
def sized(long_run):
    """sized(short, long): the value for this run's variant."""
    return lambda short, long: long if long_run else short


@pytest.fixture(scope="session")
def figures(request) -> dict:
    """Figures of the run, by test area; printed at the end and written to last_figures.json."""
    return request.config.stash[_FIGURES]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    found = config.stash.get(_FIGURES, {})
    if not found:
        return
    terminalreporter.section("reliability figures" + (" (long)" if is_long(config) else " (short)"))
    for area, values in found.items():
        terminalreporter.write_line(f"{area}: {json.dumps(values, sort_keys=True, default=str)}")
    found_with_variant = {
        "variant": "long" if is_long(config) else "short",
        "database": (DATABASE_URL or "sqlite").split("@")[-1],
        **found,
    }
    (HERE / "last_figures.json").write_text(json.dumps(found_with_variant, indent=2, sort_keys=True, default=str))
