"""Fail when a README states a bench figure that no committed bench result (bench/results/**/*.json) holds.

The rule, precisely (run by `make lint`; `python tools/check_bench_figures.py` prints each figure it cannot
find, with file and line, and exits 1):

What is a figure. Only measured values are checked, never settings, limits or targets:
- In a markdown table whose header has the columns "ours" and "ratio" (the bench's result tables, not the
  tables that describe the measures): every number in the cells of the columns "ours", "bare", "ceiling" and
  "ratio", except a count that names what it counts ("(2 streams)", "(8 conn.)").
- In prose (any line outside tables, code fences and `code spans`): a number written with a unit of measured
  speed or time: `lines/s`, `rows/s`, `req/s`, `ms`, `µs`, or a thousands suffix `k` ("49k", "17.4k"); and a
  comma-grouped number ("45,676") on a line that also has one of those units. A number directly after a
  comparison or a limit word (`<`, `≤`, `≥`, `>`, "under (the)", "over", "below", "above", "at most", "at
  least", "per", "than", "target", "default") is a bound, not a figure, and is skipped, as are numbers glued
  to a letter (p50, ES_HEAP, 8.19.0) and sizes ("10k jobs", "100k lines", "10k to 10M", "a 2,000-line
  page": a number followed by what it counts).
- A line may opt out by ending with the comment `<!-- not a bench figure -->`: only for a figure that the
  text itself says was measured outside the bench's results (a profiler, a run that was not stored), so the
  reader is told; the comment makes each such line visible to a grep.

How it matches. A figure written with d decimals (thousands separators ignored, "k" = x1000) is held by a
result when some number anywhere in a committed JSON, rounded to d decimals, equals it; ms and µs figures
may also be a seconds value of the JSON (x1000, x1e6), MB figures a byte count (/1e6 or /2**20). "The same
value rounded as written": 0.766 needs a 0.7655..0.7665 somewhere, 49k a 48,500..49,499.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READMES = sorted(p for p in ROOT.rglob("README.md") if not {".venv", "node_modules", "data"} & set(p.parts))
# Committed results only (git's index: bench/results/*.json is ignored, so a result left on disk uncommitted must
# not count), profiles/ included.
RESULTS = sorted(
    ROOT / name
    for name in subprocess.run(["git", "ls-files", "-z", "bench/results"], cwd=ROOT, capture_output=True, check=True)
    .stdout.decode()
    .split("\0")
    if name.endswith(".json")
)

NUMBER = r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?"
UNIT = r"(k\b)?\s?(lines/s|rows/s|req/s|ms\b|µs\b|MB\b)?"
FIGURE = re.compile(NUMBER + UNIT)
SPEED_UNITS = ("lines/s", "rows/s", "req/s", "ms", "µs")
BOUND = re.compile(
    r"(?:[<>≤≥]|\bunder|\bover|\bbelow|\babove|\bat most|\bat least|\bper|\bthan|\btarget|\bdefault)"
    r"(?:\s+the)?\W{0,3}$",
    re.I,
)
SIZE = re.compile(r"^[\s-]?(?:jobs?|lines?(?!/s)|rows|requests|documents|executions|matches|to \d+M\b)\b")
COUNTED = re.compile(r"^\s?(?:streams?|conn\.|connections|clients|workers|rounds?)\b")
OPT_OUT = "<!-- not a bench figure -->"
TABLE_COLUMNS = ("ours", "bare", "ceiling", "ratio")


def result_numbers() -> list[float]:
    values: list[float] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            values.append(float(node))

    for path in RESULTS:
        walk(json.loads(path.read_text()))
    return values


def held(written: str, unit: str | None, values: list[float]) -> bool:
    """Whether a value of the results, rounded as the figure is written, equals it."""
    _, _, fraction = written.replace(",", "").partition(".")
    decimals = len(fraction.rstrip("k"))
    number = float(written.replace(",", "").rstrip("k"))
    scales = [1.0]
    if written.endswith("k"):
        scales = [1 / 1000]
    elif unit == "ms":
        scales = [1.0, 1000.0]
    elif unit == "µs":
        scales = [1.0, 1e6]
    elif unit == "MB":
        scales = [1.0, 1 / 1e6, 1 / 2**20]
    # Half a unit of the last written digit either way (and a hair more: 402.55 is stored as 402.5499999...).
    tolerance = 0.5 * 10**-decimals * (1 + 1e-9)
    return any(abs(v * s - number) <= tolerance for v in values for s in scales)


def prose_figures(line: str) -> Iterator[tuple[str, str | None]]:
    text = re.sub(r"`[^`]*`", " ", line)  # code spans: commands, settings, examples
    speed_line = any(re.search(rf"\d\s?k?\s?{re.escape(u)}", text) for u in SPEED_UNITS) or re.search(
        r"\d(?:\.\d+)?k\b", text
    )
    for m in FIGURE.finditer(text):
        whole, fraction, k, unit = m.groups()
        if BOUND.search(text[: m.start()]):
            continue
        if text[m.end() : m.end() + 1].isalpha() and not k:  # 8.19.0, 2nd, 10M lines: not a measure
            continue
        if not unit and SIZE.match(text[m.end() :]):  # "100k lines", "a 2,000-line page": sizes
            continue
        written = whole + (fraction or "") + ("k" if k else "")
        if k or unit in SPEED_UNITS or ("," in whole and speed_line):
            yield written, unit


def table_figures(cells: list[str], columns: list[int]) -> Iterator[tuple[str, str | None]]:
    for index in columns:
        if index >= len(cells):
            continue
        cell = re.sub(r"`[^`]*`", " ", cells[index])
        for m in FIGURE.finditer(cell):
            whole, fraction, k, unit = m.groups()
            if COUNTED.match(cell[m.end() :]) or BOUND.search(cell[: m.start()]):
                continue
            yield whole + (fraction or "") + ("k" if k else ""), unit


def figures(path: Path) -> Iterator[tuple[int, str, str | None]]:
    in_code, columns = False, None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code or line.rstrip().endswith(OPT_OUT):
            continue
        if line.lstrip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if columns is None:  # the header row
                names = [c.lower() for c in cells]
                results = "ours" in names and "ratio" in names
                columns = [i for i, name in enumerate(names) if name in TABLE_COLUMNS] if results else []
                continue
            if set("".join(cells)) <= set("-: "):
                continue
            for written, unit in table_figures(cells, columns):
                yield number, written, unit
            continue
        columns = None
        for written, unit in prose_figures(line):
            yield number, written, unit


def main() -> int:
    if "--list" in sys.argv:  # every figure the rule finds, held or not
        for path in READMES:
            for number, written, unit in figures(path):
                print(f"{path.relative_to(ROOT)}:{number}: {written}{' ' + unit if unit else ''}")
        return 0
    values = result_numbers()
    missing = [
        f"{path.relative_to(ROOT)}:{number}: {written}{' ' + unit if unit else ''}"
        for path in READMES
        for number, written, unit in figures(path)
        if not held(written, unit, values)
    ]
    for line in missing:
        print(f"{line} is in no committed bench result (bench/results/**/*.json)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
