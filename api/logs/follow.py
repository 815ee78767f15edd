"""/v6/logs/?…&follow=true: new lines matching a search, from every execution, as Server-Sent Events.

Each event is `id: <resume token>` and `data: <one hit, as in /v6/logs/ results>`; the stream opens with a
block of only `id:` (the start, so a client that saw no line yet resumes from there too; EventSource dispatches
no event for it). Like an execution's follow it holds a long-read slot, ends after FOLLOW_MAX_SECONDS without an
`end` event, and a client reconnecting with Last-Event-ID gets every matching line after it exactly once
(search.follow says how, and for which lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import falcon
import orjson

from api.auth import client_address
from api.errors import bad_request
from api.logs.hit_links import add_hit_links
from api.logs.long_reads import LongReads
from api.logs.streaming import guarded_stream
from api.params import Param
from jobs.log_target_store import LogTargetStore
from search import LogSearch
from search.finder import Filters, hit_of
from search.follow import HEARTBEAT, Followed, InvalidToken, Position, decode_token, is_token, start_of_search

FLUSH_LINES = 512
Wanted = tuple[list[str] | None, list[str] | None]  # the job statuses and error categories a follow asks for
FOLLOW_PARAM = Param(
    "follow",
    "boolean",
    description="Stream new matching lines from every execution as Server-Sent Events (text/event-stream) until "
    "FOLLOW_MAX_SECONDS; resume with the Last-Event-ID header. Not with cursor or group.",
)


class SearchFollow:
    def __init__(
        self,
        log_targets: LogTargetStore,
        log_search: LogSearch,
        follow_max_seconds: float,
        long_reads: LongReads,
        trust_forwarded_for: bool = False,
    ):
        self._log_targets = log_targets
        self._search = log_search
        self._max_seconds = follow_max_seconds
        self._long_reads = long_reads
        self._trust_forwarded_for = trust_forwarded_for

    def respond(self, req: falcon.Request, resp: falcon.Response, q: dict, filters: Filters) -> None:
        """`filters` unresolved (api.logs.filters.filters_of): status and error_category are judged per line."""
        for name in ("cursor", "group"):
            if q.get(name) is not None:
                raise bad_request(f'Parameter "{name}" cannot be combined with "follow"')
        pos = start_of(req.get_header("Last-Event-ID"), self._search)
        client = client_address(req, self._trust_forwarded_for)
        with self._long_reads.slot(req, resp, client, "follow"):
            # The job's status and error category are judged as each line is sent (the job's facts now), not by
            # the executions a resolve found at the start: a follow sees executions that start after it.
            wanted = (filters.statuses, filters.error_categories)
            unfaceted = replace(filters, statuses=None, error_categories=None)
            items = self._search.follow_search(unfaceted, pos, self._max_seconds, hit_of)
            resp.content_type = "text/event-stream"
            resp.set_header("Cache-Control", "no-cache")
            resp.set_header("X-Accel-Buffering", "no")  # proxies must pass events on at once
            resp.stream = guarded_stream(self._body(req, pos, items, wanted), items)

    def _body(self, req: falcon.Request, pos: Position, items: Iterator, wanted: Wanted) -> Iterator[bytes]:
        yield f"retry: 2000\n\nid: {pos.token()}\n\n".encode()
        batch: list[Followed] = []
        for item in items:
            if isinstance(item, Followed):
                batch.append(item)
                if len(batch) < FLUSH_LINES:
                    continue
            if batch:
                yield self._events(req, batch, wanted)
                batch = []
            if item == HEARTBEAT:
                yield b": keepalive\n\n"
        if batch:
            yield self._events(req, batch, wanted)

    def _events(self, req: falcon.Request, batch: list[Followed], wanted: Wanted) -> bytes:
        """The events of a batch of lines, with their job's facts and links (one SQL query per batch); lines whose
        job has not the wanted status or error category are left out, their ids included."""
        add_hit_links(req, self._log_targets, [f.item for f in batch])
        statuses, categories = wanted
        sent = [
            f
            for f in batch
            if (not statuses or f.item["job_status"] in statuses)
            and (not categories or f.item["error_category"] in categories)
        ]
        return "".join(f"id: {f.token}\ndata: {orjson.dumps(f.item).decode()}\n\n" for f in sent).encode()


def start_of(last_event_id: str | None, log_search: LogSearch) -> Position:
    """Where a search follow starts: after Last-Event-ID, else from now."""
    if not last_event_id:
        return start_of_search()
    try:
        pos = decode_token(last_event_id) if is_token(last_event_id) else None
    except InvalidToken:
        pos = None
    if pos is None or not pos.caught_up:
        raise bad_request("Invalid resume token for header: Last-Event-ID (send the id of this follow's last event)")
    return pos
