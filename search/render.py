"""Log lines as response bodies: Scale's JSON (an Elasticsearch search response), a JSON array of lines, NDJSON,
plain text, HTML and Server-Sent Events.

Bodies are produced as an iterator of byte chunks, so a whole log streams in bounded memory. Scale's JSON is
`{"timed_out", "hits": {"max_score", "hits": [...], "total"}, "took"}`: the count and the time are only known
once every line has gone out, so they come last (JSON leaves key order free).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from html import escape

import orjson

from search.cursor import encode
from search.follow import ENDED, HEARTBEAT, Followed
from search.lines import Line

CONTENT_TYPES = {
    "json": "application/json",
    "array": "application/json",
    "ndjson": "application/x-ndjson",
    "txt": "text/plain; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "sse": "text/event-stream; charset=utf-8",
}
FLUSH_BYTES = 64 * 1024
_stdlib_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _encoded(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate from an old document: U+FFFD, as ingest stores one
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def _dumps(obj) -> str:
    try:
        return orjson.dumps(obj).decode()
    except TypeError:  # a lone surrogate from an old document: the standard library escapes it
        return _stdlib_dumps(obj)


HTML_HEAD = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:monospace;white-space:pre-wrap;margin:0.5em}} .stderr{{color:#b00020}}</style>
</head><body>
"""


class Format:
    """How one format writes its start, each line, the separator between lines, and its end."""

    def __init__(
        self, name: str, title: str = "Log", follow: bool = False, began: float | None = None, context: bool = False
    ):
        self.name = name
        self.context = context  # lines around an anchor: txt and html mark it (api.logs.context)
        self.title = title
        self.follow = follow  # followed text ends every line, as it may be the last for a while
        self.high: tuple | None = None  # SSE: the largest key sent, so a resume never repeats a line
        self.count = 0  # lines written (json: hits.total)
        self.began = time.monotonic() if began is None else began  # json: "took" counts from here

    def start(self) -> str:
        if self.name == "json":
            return '{"timed_out":false,"hits":{"max_score":null,"hits":['
        if self.name == "array":
            return "["
        if self.name == "html":
            return HTML_HEAD.format(title=escape(self.title))
        if self.name == "sse":
            return "retry: 2000\n\n"
        return ""

    def line(self, line: Line, first: bool, token: str | None = None) -> str:
        """`token`: a follow's resume token for this line (SSE's id); without one, the largest key sent."""
        name = self.name
        if name == "json":
            self.count += 1
            hit = {
                "_index": line.doc_index,
                "_id": line.doc_id,
                "_score": None,
                "_source": line.fields,
                "sort": line.key,
            }
            try:
                text = orjson.dumps(hit).decode()
            except TypeError:  # as in _dumps
                text = _stdlib_dumps(hit)
            return text if first else "," + text
        if name == "array":
            return ("" if first else ",") + _dumps(line.fields)
        if name == "ndjson":
            return _dumps(line.fields) + "\n"
        if name == "txt":
            if self.context:  # grep -n's marks: "k:" before the anchor, "k-" before the lines around it
                mark = ":" if line.fields.get("anchor") else "-"
                return ("" if first else "\n") + f"{line.fields['scale_order_num']}{mark}{line.fields['message']}"
            if self.follow:
                return line.fields["message"] + "\n"
            return ("" if first else "\n") + line.fields["message"]
        if name == "html":
            css = "stderr" if line.stream == "stderr" else "stdout"
            if line.fields.get("anchor"):
                css += " anchor"
            return f'<div class="{css}">{escape(line.fields["message"])}</div>\n'
        if token is not None:
            return f"id: {token}\ndata: {_dumps(line.fields)}\n\n"
        if self.high is None or line.key > self.high:
            self.high = line.key
        return f"id: {encode(self.high)}\ndata: {_dumps(line.fields)}\n\n"

    def end(self, ended: bool = True) -> str:
        """`ended`: no more lines will come (SSE tells the client not to reconnect)."""
        if self.name == "json":
            took = round((time.monotonic() - self.began) * 1000)
            return f'],"total":{self.count}}},"took":{took}}}'
        if self.name == "array":
            return "]"
        if self.name == "html":
            return "</body></html>\n"
        if self.name == "sse" and ended:
            return "event: end\ndata: {}\n\n"
        return ""

    def heartbeat(self) -> str:
        return ": keepalive\n\n" if self.name == "sse" else ""


def body(fmt: Format, lines: Iterable[Line]) -> Iterator[bytes]:
    """A finite body: start, the lines, end; chunks of about FLUSH_BYTES."""
    parts: list[str] = [fmt.start()]
    size = 0
    first = True
    for line in lines:
        text = fmt.line(line, first)
        first = False
        parts.append(text)
        size += len(text)
        if size >= FLUSH_BYTES:
            yield _encoded("".join(parts))
            parts, size = [], 0
    parts.append(fmt.end())
    yield _encoded("".join(parts))


def followed_body(fmt: Format, items: Iterable[Line | Followed | str]) -> Iterator[bytes]:
    """A followed body: lines as they come, flushed whenever the follower pauses to poll."""
    parts: list[str] = [fmt.start()]
    first = True
    ended = False
    for item in items:
        if isinstance(item, (Line, Followed)):
            line, token = (item.item, item.token) if isinstance(item, Followed) else (item, None)
            parts.append(fmt.line(line, first, token))
            first = False
            if len(parts) < 512:
                continue
        elif item == HEARTBEAT:
            parts.append(fmt.heartbeat())
        elif item == ENDED:
            ended = True
        if parts:
            text = "".join(parts)
            parts = []
            if text:
                yield _encoded(text)
    parts.append(fmt.end(ended))
    text = "".join(parts)
    if text:
        yield _encoded(text)
