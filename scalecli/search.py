"""`scale search`: what it asks of /v6/logs/ and its sub-routes, and how it prints the answers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import click
import httpx

from scalecli import logs, render
from scalecli.api import Api, ApiError

BAR_WIDTH = 50
EXPORT_FORMATS = {".csv": "csv", ".txt": "txt", ".log": "txt"}
# The service's names (the client imports nothing of it); an unknown one would be its 400 anyway.
JOB_STATUSES = ("PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED")
ERROR_CATEGORIES = ("SYSTEM", "DATA", "ALGORITHM")
MIN_FOLLOW_SECONDS = 1.0  # a follow that ends sooner (without an error) is retried with a backoff


def walk(api: Api, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every match, page after page on one cursor walk (no 10,000 cap)."""
    answer = api.get_json("/v6/logs/", {**params, "cursor": "*", "page_size": 1000})
    while True:
        yield from answer["results"]
        if not answer["next"]:
            return
        answer = api.get_json("/v6/logs/", dict(parse_qsl(urlsplit(answer["next"]).query)))


def export(api: Api, params: dict[str, Any], path: str) -> int:
    """Every match into `path` (format by its extension: .csv, .txt/.log, else NDJSON; - for stdout)."""
    fmt = next((f for ext, f in EXPORT_FORMATS.items() if path.endswith(ext)), "ndjson")
    with click.open_file(path, "wb") as out:
        return api.download("/v6/logs/export/", {**params, "format": fmt}, out)


def print_histogram(api: Api, params: dict[str, Any], as_json: bool) -> None:
    answer = api.get_json("/v6/logs/histogram/", {**params, "by": "stream"})
    if as_json:
        render.print_json(answer)
        return
    top = max((b["count"] for b in answer["buckets"]), default=0) or 1
    rows = [
        [b["start"], str(b["count"]), str(b["streams"]["stderr"]), "#" * round(b["count"] * BAR_WIDTH / top)]
        for b in answer["buckets"]
    ]
    out = render.console()
    out.print(render.table(["FROM", "MATCHES", "STDERR", ""], rows))
    out.print(f"{answer['total']} matches, {answer['interval']} a bucket", style="dim")


def print_facets(api: Api, params: dict[str, Any], as_json: bool) -> None:
    """The top values of each field of the matches, a table per field with each value's share of the total."""
    answer = api.get_json("/v6/logs/facets/", params)
    if as_json:
        render.print_json(answer)
        return
    out = render.console()
    total = answer["total"] or 1
    for field, values in answer["facets"].items():
        rows = [[render.escape(v["value"]), str(v["count"]), f"{100 * v['count'] / total:.1f}%"] for v in values]
        out.print(render.table([field.upper(), "MATCHES", "SHARE"], rows))
    out.print(f"{answer['total']} matches", style="dim")


def print_context(api: Api, hits: list[dict[str, Any]], lines: int, as_json: bool) -> None:
    """Each hit with the lines around it in its execution's log, grep -n -C style (anchor "k:", others "k-")."""
    for n, hit in enumerate(hits):
        if not hit.get("context_url"):
            continue
        path = urlsplit(hit["context_url"]).path
        answer = api.get_json(path, {"around": hit["scale_order_num"], "context": lines, "format": "array"})
        if as_json:
            render.print_json({"hit": hit, "context": answer})
            continue
        if n:
            click.echo("--")
        click.echo(click.style(f"job {hit.get('job_id')} exe {hit.get('exe_num')} {path}", dim=True), err=False)
        for line in answer:
            mark = ":" if line.get("anchor") else "-"
            text = f"{line['scale_order_num']}{mark}{line['message']}"
            click.echo(click.style(text, bold=True) if line.get("anchor") else text)


def print_groups(api: Api, params: dict[str, Any], as_json: bool) -> None:
    answer = api.get_json("/v6/logs/", {**{k: v for k, v in params.items() if v is not None}, "group": "execution"})
    if as_json:
        render.print_json(answer)
        return
    rows = [
        [
            str(r.get("job_exe_id") or ""),
            str(r.get("job_id") or ""),
            render.escape((r.get("job_type") or {}).get("name")),
            render.status_text(r.get("job_status")),
            str(r["matches"]),
            r["first_match"].get("@timestamp"),
            render.escape(r["first_match"].get("message")),
        ]
        for r in answer["results"]
    ]
    out = render.console()
    out.print(render.table(["EXE", "JOB", "JOB TYPE", "STATUS", "MATCHES", "FIRST MATCH", "LINE"], rows))
    out.print(f"{len(rows)} of {answer['count']} executions", style="dim")


def follow(api: Api, params: dict[str, Any], retry: logs.Retry) -> Iterator[dict[str, Any]]:
    """New matches as they arrive, from every execution, until interrupted: the service ends each follow after
    FOLLOW_MAX_SECONDS and this reconnects with the last event's id, which resumes exactly after it."""
    last_id: str | None = None
    while True:
        opened = time.monotonic()
        try:
            with api.events("/v6/logs/", {**params, "follow": "true"}, last_id, logs.FOLLOW_READ_TIMEOUT) as source:
                for event in source.iter_sse():
                    last_id = event.id or last_id  # the opening event carries only the start's id
                    if event.event != "message" or not event.data:
                        continue
                    retry.progress()
                    yield json.loads(event.data)
        except httpx.TransportError as exc:
            retry.failed(f"connection lost ({type(exc).__name__})", ApiError(f"cannot reach {api.url}: {exc}"))
            continue
        except ApiError as exc:
            if not logs.retryable(exc):
                raise
            retry.failed(str(exc), exc)
            continue
        if time.monotonic() - opened < MIN_FOLLOW_SECONDS:  # ended at once: don't spin
            retry.failed("the stream ended early", ApiError("the service keeps ending the follow"))
        else:
            retry.progress()  # a quiet search: the follow reached its time limit


def hit_line(hit: dict[str, Any], as_json: bool) -> None:
    """One followed match: its time, job, execution number and stream before the message."""
    if as_json:
        render.print_json(hit)
        return
    job_type = (hit.get("job_type") or {}).get("name") or ""
    head = f"{hit.get('@timestamp')} job {hit.get('job_id') or ''} exe {hit.get('exe_num') or ''} {job_type}"
    render.log_line({**hit, "message": f"{head} {hit.get('stream')}: {hit.get('message', '')}"}, False)
