"""The node name a worker runs as, held exclusively through a lock file while the worker lives."""

from __future__ import annotations

import fcntl
import os
import re
import socket
from pathlib import Path


def hold_node_name(lock_dir: Path, wanted: str | None) -> tuple[str, int]:
    """(node name, lock fd): --node exactly, else the first free of host, host-2, host-3, ..."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    candidates = [wanted] if wanted else [host] + [f"{host}-{n}" for n in range(2, 1000)]
    for name in candidates:
        fd = os.open(lock_dir / f"worker-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return name, fd
        except BlockingIOError:
            os.close(fd)
    raise SystemExit(f"node name {wanted!r} is held by another running worker" if wanted else "no free node name")
