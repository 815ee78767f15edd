"""Following log lines as they arrive: one execution's (after a catch-up on what is there already) or a search's.

Why arrival order. A line's sort key (@timestamp, scale_order_num, ...) says when it was captured, not when it
became searchable: shippers batch, spools replay after an outage, several executors post to the ingest route at
once, the shipper sends two bulk requests side by side, and the node refreshes about every second. A follow that
moves along the sort key and resumes after the largest key it sent drops every line that becomes searchable after
a line with a later key (a re-read window of @timestamp only narrows that to lines later than its width, and a
resumed follow had no window at all). Remembering sent lines instead would make memory and the resume token grow
with the log's rate.

So the shipper stamps each line with `event.ingested` (epoch milliseconds) as it sends it (ingest.shipper._Stamp),
and after the catch-up a follow reads lines in (event.ingested, sort key) order, but only those stamped at least
`settle_seconds` ago: a line is searchable within a refresh (1 s) of its bulk request, so by then every line
stamped up to that point is searchable, and the follow moves past it for good. Its position is then one key, and
each event's resume token (FollowToken) carries it: exactly once across reconnects, with no memory of sent
lines. The costs: lines show `settle_seconds` later than they could (plus a poll), one more field per document
(README, "Following logs"), and the assumption that a bulk request and the clocks of the shipping hosts stay
within `settle_seconds` (a line refused with 429 and retried inside one bulk pass keeps its first stamp).

Lines without `event.ingested` (written by Fluentd or Fluent Bit into the same indices, legacy indices, and
lines written before this) are followed as before: a re-read of the last `lookback_seconds` of @timestamp with
the keys sent remembered (bounded), and a resume after the largest of them.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from search.cursor import KEY_TYPES, LONG_MAX, LONG_MIN
from search.lines import Line, line_of
from search.queries import line_sort, time_range

ARRIVAL = "event.ingested"
TOKEN_VERSION = "F"
CHUNK = 2_000

# Sentinels a follow yields besides lines.
HEARTBEAT = "heartbeat"  # nothing new for a while; lets the caller notice a gone client
ENDED = "ended"  # the execution has ended and its last lines were read
IDLE = "idle"  # about to wait before polling again: a good moment to flush


class InvalidToken(ValueError):
    """Not a follow token this service made."""


@dataclass(frozen=True)
class Position:
    """Where a follow is: what its resume token (Last-Event-ID) says.

    `boundary` (epoch ms) splits the lines: the catch-up reads, in sort-key order, the stamped lines that arrived
    at or before it and every unstamped one; the lines stamped after it come in arrival order."""

    boundary: int
    caught_up: bool = False
    catchup: tuple | None = None  # the last line key the catch-up sent (or the cursor it started after)
    arrival: tuple | None = None  # (event.ingested, *line key) of the last stamped line sent after the catch-up
    unstamped: tuple | None = None  # the largest key of an unstamped line sent after the catch-up
    # A follow that began with the last lines (tail): (when they were read, *the last one's key). They were read
    # whatever their arrival, so the catch-up ends at that key and the arrival order skips what they covered.
    tail: tuple | None = None

    def token(self) -> str:
        raw = [self.boundary, int(self.caught_up), self.catchup, self.arrival, self.unstamped, self.tail]
        body = json.dumps(raw, separators=(",", ":")).encode()
        return TOKEN_VERSION + base64.urlsafe_b64encode(body).decode().rstrip("=")


def is_token(raw: str) -> bool:
    return raw.startswith(TOKEN_VERSION)


def decode_token(raw: str) -> Position:
    body = raw[len(TOKEN_VERSION) :]
    try:
        values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidToken("malformed follow token") from None
    if not isinstance(values, list) or len(values) != 6 or not _long(values[0]) or values[1] not in (0, 1):
        raise InvalidToken("malformed follow token")
    catchup, arrival, unstamped, tail = values[2:]
    if not (
        _key(catchup, KEY_TYPES)
        and _key(arrival, (int, *KEY_TYPES))
        and _key(unstamped, KEY_TYPES)
        and _key(tail, (int, *KEY_TYPES))
    ):
        raise InvalidToken("malformed follow token")
    return Position(values[0], bool(values[1]), *(None if v is None else tuple(v) for v in values[2:]))


def _long(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and LONG_MIN <= value <= LONG_MAX


def _key(value: Any, types: tuple) -> bool:
    if value is None:
        return True
    if not isinstance(value, list) or len(value) != len(types):
        return False
    return all(_long(v) if kind is int else isinstance(v, kind) for v, kind in zip(value, types))


class Followed(NamedTuple):
    """One line of a follow (a Line, or a search hit's dict) and the token that resumes right after it."""

    item: Any
    token: str


@dataclass(frozen=True)
class FollowTiming:
    poll_seconds: float = 0.5
    # How long after its event.ingested stamp a line is surely searchable (module docstring): a refresh (1 s),
    # the bulk request's own time and the shipping hosts' clock skew. Lines are sent this much later.
    settle_seconds: float = 3.0
    # Unstamped lines (module docstring) can become searchable after lines with later timestamps: each poll
    # re-reads this far back in @timestamp and drops what it already sent.
    lookback_seconds: float = 10.0
    # After the execution ends, keep polling this long for its last lines to become searchable.
    end_grace_seconds: float = 2.0
    heartbeat_seconds: float = 15.0


Search = Callable[..., list[dict]]  # search(query=, sort=, size=, search_after=, highlight=) -> hits


def start_of_search(now_ns: int | None = None) -> Position:
    """A search follow's start: the lines that arrive from now on (stamped after now), nothing before."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    boundary = now_ns // 1_000_000
    # Unstamped lines from the same instant on: a key below every line key of that nanosecond.
    return Position(boundary, caught_up=True, unstamped=(boundary * 1_000_000, LONG_MIN, "", LONG_MIN))


def start_of_execution(timing: FollowTiming, after: tuple | None) -> Position:
    """An execution follow's start: a catch-up after `after` (a line cursor, None for the whole log)."""
    boundary = time.time_ns() // 1_000_000 - int(timing.settle_seconds * 1000)
    return Position(boundary, catchup=after)


def stamped_after(boundary: int) -> dict:
    return {"range": {ARRIVAL: {"gt": boundary, "format": "epoch_millis"}}}


def catchup_query(base: dict, boundary: int) -> dict:
    """The catch-up's lines: stamped at or before the boundary, or not stamped."""
    return {
        "bool": {
            "filter": [base],
            "should": [
                {"range": {ARRIVAL: {"lte": boundary, "format": "epoch_millis"}}},
                {"bool": {"must_not": [{"exists": {"field": ARRIVAL}}]}},
            ],
            "minimum_should_match": 1,
        }
    }


def arrival_sort() -> list[dict]:
    return [{ARRIVAL: {"order": "asc", "unmapped_type": "date"}}, *line_sort()]


class Follower:
    """The polling loop of one follow; `make(hit)` turns a hit (sort = the line key) into what is sent."""

    def __init__(
        self,
        search: Search,
        base: dict,
        timing: FollowTiming,
        make: Callable[[dict], Any] = line_of,
        highlight: dict | None = None,
        stopping: threading.Event | None = None,
    ):
        self._stopping = stopping or threading.Event()
        self._search = search
        self._base = base
        self._timing = timing
        self._make = make
        self._highlight = highlight

    def run(
        self,
        pos: Position,
        catchup: Callable[[dict, tuple | None], Iterator[Line]] | None,
        ended_ago: Callable[[], float | None],
        max_seconds: float,
    ) -> Iterator[Followed | str]:
        """Lines from `pos` on until the execution has ended (ENDED; `ended_ago()` is how many seconds ago it
        ended, None while it runs: never, for a search), `max_seconds` have passed or the process is stopping
        (the `stopping` event: the stream ends at the next poll or line, and the client resumes elsewhere with
        the last token). `catchup(query, after)` reads the lines before the boundary in sort-key order (None: a
        search follow has none)."""
        t = self._timing
        start = last_output = time.monotonic()
        finished_at = None
        if pos.caught_up:
            sent = _Sent(pos.unstamped)
        else:
            assert catchup is not None
            # The catch-up's lines count as sent: an unstamped line later than them by less than the lookback
            # but sorting before them still comes.
            sent = _Sent(pos.catchup)
            bound = pos.boundary if pos.tail is None else pos.tail[0]
            lines = catchup(catchup_query(self._base, bound), pos.catchup)
            try:
                for line in lines:
                    if self._stopping.is_set():
                        return
                    if pos.tail is not None and line.key > pos.tail[1:]:
                        break  # after the tail's lines, the arrival order
                    pos = replace(pos, catchup=line.key)
                    sent.add(line.key)
                    last_output = time.monotonic()
                    yield Followed(line, pos.token())
            finally:
                close = getattr(lines, "close", None)
                if close:
                    close()  # its point-in-time, at once (also when the client goes away)
            pos = replace(pos, caught_up=True, unstamped=sent.high)
        lookback = int(t.lookback_seconds * 1e9)
        while True:
            if finished_at is None:
                ago = ended_ago()
                if ago is not None:
                    finished_at = time.monotonic() - max(ago, 0.0)
            polled_at = time.monotonic()
            for kind, hit in self._poll(pos, sent, lookback):
                if kind == "stamped":
                    arrival = (hit["_arrival"], *hit["sort"])
                    pos = replace(pos, arrival=arrival)
                    if pos.tail is not None and arrival[0] > pos.tail[0]:
                        pos = replace(pos, tail=None)  # past the tail's reach
                    elif pos.tail is not None and arrival[1:] <= pos.tail[1:]:
                        continue  # searchable when the tail was read, and at or before its last line: covered
                else:
                    pos = replace(pos, unstamped=sent.high)
                last_output = time.monotonic()
                yield Followed(self._make(hit), pos.token())
            sent.forget_before(lookback)
            now = time.monotonic()
            # Ended once a poll begun end_grace after the end has read every line stamped until then.
            if finished_at is not None and polled_at - finished_at >= t.end_grace_seconds + t.settle_seconds:
                yield ENDED
                return
            if now - start >= max_seconds or self._stopping.is_set():
                return
            if now - last_output >= t.heartbeat_seconds:
                last_output = now
                yield HEARTBEAT
            yield IDLE
            self._stopping.wait(t.poll_seconds)

    def _poll(self, pos: Position, sent: _Sent, lookback: int) -> Iterator[tuple[str, dict]]:
        settled = time.time_ns() // 1_000_000 - int(self._timing.settle_seconds * 1000)
        arrival = pos.arrival
        if arrival is None or arrival[0] < settled:
            low = pos.boundary if arrival is None else arrival[0]
            span = {
                "range": {
                    ARRIVAL: {("gt" if arrival is None else "gte"): low, "lte": settled, "format": "epoch_millis"}
                }
            }
            query = {"bool": {"filter": [self._base, span]}}
            after = None if arrival is None else list(arrival)
            while True:
                hits = self._search(
                    query=query, sort=arrival_sort(), size=CHUNK, search_after=after, highlight=self._highlight
                )
                for hit in hits:
                    after = hit["sort"]
                    hit["_arrival"], hit["sort"] = hit["sort"][0], hit["sort"][1:5]
                    yield "stamped", hit
                if len(hits) < CHUNK:
                    break
        since = sent.since(lookback)
        clauses: list[dict] = [self._base]
        dated = time_range(since, None) if since is not None else None
        if dated:
            clauses.append(dated)
        query = {"bool": {"filter": clauses, "must_not": [{"exists": {"field": ARRIVAL}}]}}
        after = None
        while True:
            hits = self._search(
                query=query, sort=line_sort(), size=CHUNK, search_after=after, highlight=self._highlight
            )
            for hit in hits:
                after = hit["sort"]
                hit["sort"] = hit["sort"][:4]
                if sent.add(tuple(hit["sort"])):
                    yield "unstamped", hit
            if len(hits) < CHUNK:
                break


class _Sent:
    """Keys of unstamped lines a follow has sent, to drop repeats when it re-reads its lookback window.

    It remembers at most MAX keys; `floor` is the largest key forgotten (or the resume cursor): anything
    at or below it counts as sent, so memory and each re-read stay bounded even for very dense logs.
    """

    MAX = 10_000

    def __init__(self, after: tuple | None):
        self.floor = after
        self.high = after
        self.recent: deque[tuple] = deque()
        self.members: set[tuple] = set()

    def add(self, key: tuple) -> bool:
        """False when the key was sent already."""
        if key in self.members or (self.floor is not None and key <= self.floor):
            return False
        if len(self.recent) >= self.MAX:
            self._forget(self.recent.popleft())
        self.recent.append(key)
        self.members.add(key)
        if self.high is None or key > self.high:
            self.high = key
        return True

    def forget_before(self, lookback_ns: int) -> None:
        while self.recent and self.high is not None and self.recent[0][0] < self.high[0] - lookback_ns:
            self._forget(self.recent.popleft())

    def since(self, lookback_ns: int) -> int | None:
        """Where the next re-read starts (nanoseconds), None for the whole log."""
        if self.high is None:
            return None
        start = self.high[0] - lookback_ns
        return max(start, self.floor[0]) if self.floor is not None else start

    def _forget(self, key: tuple) -> None:
        self.members.discard(key)
        if self.floor is None or key > self.floor:
            self.floor = key
