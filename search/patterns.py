"""`regex=`: lines matching a regular expression, a `regexp` query on the `message.keyword` sub-field.

Syntax: Lucene's RegExp with no optional operators (flags NONE): . ? + * | {n,m} ( ) [ ] [^ ] \\ escapes and
"quoted literals"; the pattern must match the whole line (Lucene anchors every regexp), so `.*disk full.*` finds
lines containing "disk full". Case-sensitive.

Where: `message.keyword` is a keyword sub-field (mapping version 2: ignore_above 8191, no doc values), the
name legacy Scale indices' dynamic mapping gives it too (ignore_above 256 there). A line longer than its
ignore_above is not in it and never matches; lines of our daily indices made before version 2 never match.
Lucene runs the pattern's automaton against the terms dictionary of the sub-field, one term per distinct line.

Why a literal of 3+ characters is required: the `wildcard` field type (Elasticsearch's x-pack-wildcard module,
absent from the node the tests run) would index 3-grams and answer patterns that have one from them without
checking every line; the rule keeps that door open and refuses patterns such as `.*` that match everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from elasticsearch import ApiError

from search.errors import SearchRefused

FIELD = "message.keyword"
MIN_LITERAL = 3
MAX_PATTERN = 1_000
CLASS_ESCAPES = set("dDsSwW")  # \d and the like: one character of a class, no literal


class PatternRefused(SearchRefused):
    """A pattern that can't be searched as given; str(exc) names the parameter and says why (400)."""


def regex_query(pattern: str) -> dict:
    return {"regexp": {FIELD: {"value": pattern, "flags": "NONE"}}}


def check_pattern(pattern: str) -> None:
    """PatternRefused unless every match must contain a literal of MIN_LITERAL characters (and the pattern is
    balanced: the rest of its syntax is Elasticsearch's to check)."""
    if not pattern:
        raise PatternRefused('Parameter "regex" must not be empty')
    if len(pattern) > MAX_PATTERN:
        raise PatternRefused(f'Parameter "regex" must be at most {MAX_PATTERN} characters')
    if min(_longest_literal(branch) for branch in _top_branches(pattern)) < MIN_LITERAL:
        raise PatternRefused(
            f'Parameter "regex" needs a literal of at least {MIN_LITERAL} characters that every match contains '
            "(outside groups, classes and optional parts, in every | alternative): without one the search "
            "would have to check every line"
        )


@contextmanager
def refused_patterns(pattern: str | None) -> Iterator[None]:
    """Elasticsearch's 400 for a regex it can't parse or that is too complex becomes PatternRefused."""
    try:
        yield
    except ApiError as exc:
        if pattern is None or exc.meta.status != 400:
            raise
        reason = _reason(exc)
        raise PatternRefused(f'Parameter "regex" is not a valid Lucene regular expression: {reason}') from None


def _reason(exc: ApiError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    causes = (info.get("error") or {}).get("root_cause") or [{}]
    reason = causes[0].get("reason") or str(exc.error)
    return str(reason)[:300]


def _top_branches(pattern: str) -> list[str]:
    """The pattern split at its top-level |; PatternRefused for unbalanced ( ) [ ] " or a trailing \\."""
    branches, start, depth, i = [], 0, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 == len(pattern):
                raise PatternRefused('Parameter "regex" ends with an unfinished escape (\\)')
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
        elif c == '"':
            end = pattern.find('"', i + 1)
            if end < 0:
                raise PatternRefused('Parameter "regex" has an unclosed quote (")')
            i = end
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise PatternRefused('Parameter "regex" has an unbalanced ")"')
        elif c == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    if depth:
        raise PatternRefused('Parameter "regex" has an unclosed "("')
    return branches + [pattern[start:]]


def _class_end(pattern: str, i: int) -> int:
    """Index of the ] closing the class opened at i."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":  # a leading ] is a member
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    if j >= len(pattern):
        raise PatternRefused('Parameter "regex" has an unclosed "["')
    return j


def _longest_literal(branch: str) -> int:
    """The longest run of characters every match of `branch` (no top-level |) must contain, in order."""
    best = run = 0
    i = 0
    while i < len(branch):
        c = branch[i]
        if c in "*?{":  # the previous character was optional or counted: it leaves the run, which ends
            best, run = max(best, run - 1), 0
            if c == "{":
                i = branch.find("}", i) if branch.find("}", i) >= 0 else len(branch)
        elif c == "+":  # the previous character is there at least once; the run ends after it
            best = max(best, run)
            run = 0
        elif c == "\\":
            if branch[i + 1] in CLASS_ESCAPES:
                best, run = max(best, run), 0
            else:
                run += 1
            i += 1
        elif c == '"':
            end = branch.find('"', i + 1)
            run += end - i - 1
            i = end
        elif c == "[":
            best, run = max(best, run), 0
            i = _class_end(branch, i)
        elif c == "(":  # a group's content is not counted (it may repeat, be optional or alternate)
            depth, i = 1, i + 1
            while depth:
                if branch[i] == "\\":
                    i += 1
                elif branch[i] == "[":
                    i = _class_end(branch, i)
                elif branch[i] == '"':
                    i = branch.find('"', i + 1)
                else:
                    depth += {"(": 1, ")": -1}.get(branch[i], 0)
                i += 1
            i -= 1
            best, run = max(best, run), 0
        elif c == ".":
            best, run = max(best, run), 0
        else:
            run += 1
        i += 1
    return max(best, run)
