"""Service configuration: read from the environment once, here, and passed everywhere else.

Every variable has a documented default (see README.md, "Configuration").
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    # None means "start the embedded node" (the run command does that and sets the URL).
    elasticsearch_url: str | None
    log_index_prefix: str = "scalelogs"
    # Index patterns searched for log lines besides our own (Scale's Fluentd wrote these).
    legacy_log_indices: tuple[str, ...] = ("scalelogs-*", "logstash-*")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    api_token: str = ""
    # When set, every read route needs "Authorization: Bearer <read token>" (or the admin token).
    read_token: str | None = None
    kibana_url: str | None = None
    elasticsearch_timeout: float = 10.0
    max_body_bytes: int = 64 * 1024 * 1024
    max_log_line_bytes: int = 1024 * 1024
    follow_max_seconds: float = 300.0
    worker_lease_seconds: float = 60.0
    spool_dir: Path = field(default=Path("data/spool"))
    # Python logging: the level name, and "json" (one object a line) or "text".
    log_level: str = "INFO"
    log_format: str = "json"
    # prometheus_client's multiprocess directory (gunicorn.conf.py sets it for its workers); None: one process.
    metrics_dir: Path | None = None
    # Port of the local worker's own /metrics (None: not served).
    worker_metrics_port: int | None = None
    # Browser logins: how long a session lasts; Secure cookies even when a request does not say it came over HTTPS.
    session_seconds: float = 12 * 3600
    secure_cookies: bool = False
    # The client address of a login (for throttling) is X-Forwarded-For's last entry (the proxy's view), not the peer.
    trust_forwarded_for: bool = False
    # Origins (scheme://host[:port]) allowed to call the API from a browser, with credentials (CORS).
    allowed_origins: tuple[str, ...] = ()
    # Where the local worker keeps what jobs write to OUTPUT_DIR: that workspace (created on first use) and folder.
    worker_workspace: str = "local"
    worker_output_dir: Path = field(default=Path("data/outputs"))
    # Where that folder is served, if it is: files get url = <this>/<file_path>.
    worker_output_url: str | None = None

    @property
    def log_read_indices(self) -> tuple[str, ...]:
        """Every index pattern a log read or search looks at, ours first."""
        ours = f"{self.log_index_prefix}-*"
        return (ours,) + tuple(p for p in self.legacy_log_indices if p != ours)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("DATA_DIR", "./data")).resolve()
        legacy = env.get("LOG_LEGACY_INDICES", "scalelogs-*,logstash-*")
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'scale.db'}",
            elasticsearch_url=env.get("ELASTICSEARCH_URL") or None,
            log_index_prefix=env.get("LOG_INDEX_PREFIX", "scalelogs"),
            legacy_log_indices=tuple(p.strip() for p in legacy.split(",") if p.strip()),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            workers=int(env.get("WORKERS", "2")),
            api_token=env.get("API_TOKEN") or load_or_create_token(data_dir),
            read_token=env.get("READ_TOKEN") or None,
            kibana_url=(env.get("KIBANA_URL") or "").rstrip("/") or None,
            elasticsearch_timeout=float(env.get("ELASTICSEARCH_TIMEOUT", "10")),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", str(64 * 1024 * 1024))),
            max_log_line_bytes=int(env.get("MAX_LOG_LINE_BYTES", str(1024 * 1024))),
            follow_max_seconds=float(env.get("FOLLOW_MAX_SECONDS", "300")),
            worker_lease_seconds=float(env.get("WORKER_LEASE_SECONDS", "60")),
            spool_dir=Path(env.get("SPOOL_DIR", str(data_dir / "spool"))),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            log_format=_choice(env.get("LOG_FORMAT", "json").lower(), "LOG_FORMAT", ("json", "text")),
            metrics_dir=Path(env["PROMETHEUS_MULTIPROC_DIR"]) if env.get("PROMETHEUS_MULTIPROC_DIR") else None,
            worker_metrics_port=int(env["WORKER_METRICS_PORT"]) if env.get("WORKER_METRICS_PORT") else None,
            session_seconds=float(env.get("SESSION_SECONDS", str(12 * 3600))),
            secure_cookies=_flag(env.get("SECURE_COOKIES")),
            trust_forwarded_for=_flag(env.get("TRUST_X_FORWARDED_FOR")),
            allowed_origins=_origins(env.get("ALLOWED_ORIGINS", "")),
            worker_workspace=env.get("WORKER_WORKSPACE") or "local",
            worker_output_dir=Path(env.get("WORKER_OUTPUT_DIR") or str(data_dir / "outputs")).resolve(),
            worker_output_url=(env.get("WORKER_OUTPUT_URL") or "").rstrip("/") or None,
        )


def _choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _origins(value: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def load_or_create_token(data_dir: Path) -> str:
    """The admin token kept in DATA_DIR/api_token; a random one is made on first start."""
    path = data_dir / "api_token"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    # Create with owner-only permissions; "x" fails if another process won the race.
    try:
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(token + "\n")
    except FileExistsError:
        return path.read_text().strip()
    return token
