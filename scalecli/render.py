"""What the commands print: tables (rich) and log lines (click). Colours and styles reach a terminal only:
both libraries drop them when the output is a pipe or a file; both honour NO_COLOR (https://no-color.org)."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

STATUS_STYLES = {
    "COMPLETED": "green",
    "RUNNING": "cyan",
    "QUEUED": "blue",
    "FAILED": "red",
    "CANCELED": "yellow",
    "BLOCKED": "magenta",
    "PENDING": "dim",
}


# Terminal control sequences a job's output may hold (CSI such as cursor moves and screen clears, OSC such as
# window titles and hyperlinks, other ESC sequences), then any other control character but tab: a log line is
# text to show, never commands for the reader's terminal.
CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, ended by BEL or ST
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b.?"  # any other escape
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def plain(text: str) -> str:
    """The text without terminal control sequences or control characters (tabs kept)."""
    return CONTROL.sub("", text)


def console() -> Console:
    # Not a terminal: no colours, and no wrapping at 80 columns (a pipe has no width).
    terminal = sys.stdout.isatty()
    return Console(highlight=False, width=None if terminal else 100_000)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def status_text(status: str | None) -> str:
    status = status or ""
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/]" if style else status


def table(columns: list[str], rows: list[list[Any]]) -> Table:
    out = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in columns:
        out.add_column(name, overflow="fold")
    for row in rows:
        out.add_row(*("" if v is None else v for v in row))
    return out


def escape(value: Any) -> str:
    """A value as table text: never read as rich markup (a job's input or a log line may hold brackets)."""
    from rich.markup import escape as rich_escape

    return rich_escape(plain("" if value is None else str(value)))


def log_line(line: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(line)
        return
    message = plain(line.get("message", ""))
    if line.get("stream") == "stderr":
        message = click.style(message, fg="red")
    click.echo(message, color=_color())


def json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _color() -> bool | None:
    """click's choice (colours to a terminal only), unless NO_COLOR asks for none at all."""
    return False if os.environ.get("NO_COLOR") else None


def note(text: str) -> None:
    """A remark on stderr (dim on a terminal), apart from the output proper."""
    click.echo(click.style(text, dim=True), err=True, color=_color())
