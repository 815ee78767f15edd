"""`--profile`: py-spy samples the API's gunicorn workers during a measure; the top frames go into the JSON.

py-spy writes collapsed stacks (`--format raw`); `top()` sums them into the functions with the most samples,
by self time and inclusive of what they call.
"""

from __future__ import annotations

import collections
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_out: Path | None = None
SUMMARIES: dict[str, dict] = {}


def enable(directory: Path) -> None:
    global _out
    _out = directory
    directory.mkdir(parents=True, exist_ok=True)


def _py_spy() -> str:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else (shutil.which("py-spy") or "py-spy")


@contextmanager
def record(name: str, pids: list[int], rate: int = 97) -> Iterator[None]:
    assert _out is not None
    procs = []
    for pid in pids:
        path = _out / f"{name}-{pid}.txt"
        procs.append(
            (
                path,
                subprocess.Popen(
                    [
                        _py_spy(),
                        "record",
                        "--pid",
                        str(pid),
                        "--rate",
                        str(rate),
                        "--format",
                        "raw",
                        "--nonblocking",
                        "-o",
                        str(path),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
            )
        )
    try:
        yield
    finally:
        for _, p in procs:
            p.send_signal(signal.SIGINT)
        for _, p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        files = [path for path, _ in procs if path.exists()]
        SUMMARIES[name] = top(files)


def top(files: list[Path], n: int = 15) -> dict:
    """{"samples", "self": [(function, share)], "inclusive": [...]} over every stack in the files (idle frames
    -- threads waiting on a socket or a lock -- are counted apart so CPU shares are of busy samples)."""
    own: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    busy = idle = 0
    for f in files:
        for line in f.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            c = int(count)
            frames = [fr for fr in stack.split(";") if fr]
            leaf = frames[-1] if frames else ""
            if any(
                w in leaf
                for w in (
                    "wait (threading",
                    "select (",
                    "poll (",
                    "accept (",
                    "_recv_into",
                    "recv_into (",
                    "read (socket",
                    "readinto (socket",
                    "sleep",
                    "epoll",
                )
            ):
                idle += c
                continue
            busy += c
            own[_short(leaf)] += c
            for fr in {_short(x) for x in frames}:
                incl[fr] += c
    share = lambda k, v: (k, round(v / busy, 3)) if busy else (k, 0)  # noqa: E731
    return {
        "busy_samples": busy,
        "idle_samples": idle,
        "self": [share(k, v) for k, v in own.most_common(n)],
        "inclusive": [share(k, v) for k, v in incl.most_common(n + 15) if not k.startswith("<module>")][: n + 10],
    }


def _short(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "function (file.py)" relative to site-packages or the repo
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"
