"""The local worker's credential (`python -m accounts local-worker NODE`, called by scripts/run): an executor
token bound to NODE, of the user `local-worker` (no password, not staff), kept in DATA_DIR/worker_token (mode
600) like the admin token, and the host-path workspace its outputs go to. Made on the first run; made again when
the kept one stopped working (expired, revoked) or is bound to another node. Prints the file's path, never the
token."""

from __future__ import annotations

import os
from pathlib import Path

from jobs.stores import Stores
from jobs.user_store import EXECUTOR_SCOPE, MAX_TOKEN_DAYS
from settings import Settings

USER = "local-worker"
TOKEN_FILE = "worker_token"


def ensure_local_worker(settings: Settings, stores: Stores, node: str, path: Path | None = None) -> Path:
    """The token file of the local worker of `node` (made or renewed as needed); its output workspace exists."""
    path = path or settings.data_dir / TOKEN_FILE
    kept = path.read_text().strip() if path.exists() else ""
    holder = stores.users.holder_of_token(kept) if kept else None
    if holder is None or holder.scope != EXECUTOR_SCOPE or holder.node != node:
        if stores.users.get_user(USER) is None:
            stores.users.add_user(USER, None, first_name="Local worker")
        secret, _ = stores.users.create_token(
            USER, f"local worker {node}", scope=EXECUTOR_SCOPE, node=node, days=MAX_TOKEN_DAYS
        )
        write_secret(path, secret)
    stores.files.ensure_workspace(
        settings.worker_workspace, "Local worker outputs", str(settings.worker_output_dir), settings.worker_output_url
    )
    return path


def write_secret(path: Path, secret: str) -> None:
    """Replace the file with one holding `secret`, readable by its owner only from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(secret + "\n")
    os.replace(tmp, path)
