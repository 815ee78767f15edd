"""Service configuration: read from the environment once, here, and passed everywhere else.

Every variable has a documented default (see README.md, "Configuration").
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

# Threads of each gunicorn worker (gunicorn.conf.py): LONG_READS_PER_WORKER must leave some to short routes.
WORKER_THREADS = 16


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    # May hold a password (PostgreSQL): kept out of repr, like every secret here.
    database_url: str = field(repr=False)
    # None means "start the embedded node" (the run command does that and sets the URL). One node's URL or
    # several, comma-separated; from_env moves credentials written into it to the username/password fields.
    elasticsearch_url: str | None
    log_index_prefix: str = "scalelogs"
    # Index patterns searched for log lines besides our own (Scale's Fluentd wrote these).
    legacy_log_indices: tuple[str, ...] = ("scalelogs-*", "logstash-*")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    api_token: str = field(default="", repr=False)
    # When set, every read route needs "Authorization: Bearer <read token>" (or the admin token).
    read_token: str | None = field(default=None, repr=False)
    kibana_url: str | None = None
    elasticsearch_timeout: float = 10.0
    # --- A real cluster: credentials and TLS (README "Connecting to a secured cluster"); secrets not in repr.
    # An API key (the "encoded" base64 form, or "id:api_key"), or a user and password.
    elasticsearch_api_key: str | None = field(default=None, repr=False)
    elasticsearch_username: str | None = None
    elasticsearch_password: str | None = field(default=None, repr=False)
    # The PEM file of the CA that signed the cluster's certificate, or the certificate's SHA-256 fingerprint.
    elasticsearch_ca_certs: str | None = None
    elasticsearch_ssl_fingerprint: str | None = None
    elasticsearch_verify_certs: bool = True
    # --- The daily log indices: replicas (template), retention in days (None: kept forever), ILM policy name.
    log_index_replicas: int = 1
    log_retention_days: int | None = None
    log_ilm_policy: str | None = None
    max_body_bytes: int = 64 * 1024 * 1024
    # JSON write bodies (job types, jobs, executions, cancel, requeue) are far smaller than log uploads: anything
    # larger only costs the parser's memory and time.
    max_json_body_bytes: int = 4 * 1024 * 1024
    max_log_line_bytes: int = 1024 * 1024
    follow_max_seconds: float = 300.0
    # The job list for anonymous and read-only clients: no page past this many jobs, and orders no index serves only
    # on lists at most this long (jobs.listing.check_bound); staff are not bound.
    read_only_list_rows: int = 10_000
    # Posted log lines (ingest.posting_window): how far an executor's @timestamp may lie outside the execution's
    # life as the service saw it, and how long after the execution ended its log still takes lines.
    log_clock_skew_seconds: float = 300.0
    log_grace_seconds: float = 300.0
    # Log follows and whole-log streams open at once, per client address and per gunicorn worker (api/long_reads).
    long_reads_per_client: int = 4
    long_reads_per_worker: int = 8
    worker_lease_seconds: float = 60.0
    spool_dir: Path = field(default=Path("data/spool"))
    # Bulk requests a shipper keeps in flight at once (ingest.shipper.STREAMS is the same default).
    shipper_streams: int = 2
    # Python logging: the level name, and "json" (one object a line) or "text".
    log_level: str = "INFO"
    log_format: str = "json"
    # prometheus_client's multiprocess directory (gunicorn.conf.py sets it for its workers); None: one process.
    metrics_dir: Path | None = None
    # Port of the local worker's own /metrics (None: not served), and the address it listens on: loopback unless
    # asked (HOST is the API's; the worker's metrics have no credential check).
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    # Browser logins: how long a session lasts; secure_cookies (SECURE_COOKIES): the service is behind TLS, so cookies
    # get Secure even when a request does not say it came over HTTPS (they always do when one does).
    session_seconds: float = 12 * 3600
    # A session without a request for this long has ended (0: only session_seconds ends it).
    session_idle_seconds: float = 2 * 3600
    secure_cookies: bool = False
    # The client address of a login (for throttling) is X-Forwarded-For's last entry (the proxy's view), not the peer.
    trust_forwarded_for: bool = False
    # Links and Location headers use X-Forwarded-Host and X-Forwarded-Proto (set by our own proxy), not the request's
    # Host and scheme. Off by default: any client could otherwise point the links the service writes elsewhere.
    trust_forwarded_host: bool = False
    # Origins (scheme://host[:port]) allowed to call the API from a browser, with credentials (CORS).
    allowed_origins: tuple[str, ...] = ()
    # Where the local worker keeps what jobs write to OUTPUT_DIR: that workspace (created on first use) and folder.
    worker_workspace: str = "local"
    worker_output_dir: Path = field(default=Path("data/outputs"))
    # Where that folder is served, if it is: files get url = <this>/<file_path>.
    worker_output_url: str | None = None
    # Local jobs run in a bubblewrap sandbox (worker/sandbox.py); off only on hosts without user namespaces.
    worker_sandbox: bool = True
    # --- Alerts on saved searches (README "Alerts"). Webhook URLs must match one of these prefixes (scheme, host,
    # port exact; path a prefix): empty means no webhook is allowed, so the service can't be aimed at internal hosts.
    alert_webhook_allow: tuple[str, ...] = ()
    # Each API process checks due rules this often (one process claims each rule); off: only `python -m alerts`.
    alert_checks: bool = True
    alert_tick_seconds: float = 5.0
    # The shortest check interval a rule may ask for: each check is an exact count in Elasticsearch.
    alert_min_interval_seconds: int = 60
    # A failed delivery is retried after this, doubled each time, up to alert_max_attempts attempts.
    alert_retry_seconds: float = 30.0
    alert_max_attempts: int = 6
    # Links in notifications start with this (the service as its users reach it); default http://HOST:PORT.
    alert_link_url: str | None = None
    # Email notifications: the SMTP server (None: email targets refused), its security and login (secret not in repr).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_security: str = "none"  # none | starttls | ssl
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str = "scale-alerts@localhost"
    smtp_timeout: float = 10.0

    @property
    def link_url(self) -> str:
        """The service's address in links written outside a request (alert notifications)."""
        return self.alert_link_url or f"http://{self.host}:{self.port}"

    # --- The Kubernetes engine (python -m worker --engine kubernetes) and its node agent (python -m ingest
    # kubernetes-node). KUBECONFIG: a kubeconfig file; unset: the pod's service account (inside the cluster).
    kubeconfig: str | None = None
    kubernetes_namespace: str = "scale"
    kubernetes_pull_policy: str = "IfNotPresent"
    # Seconds a finished Job (and its pod's log files) stays, for the node agent to read its last lines.
    kubernetes_job_ttl: int = 3600
    # The kubelet's pod logs (its podLogsDir), and where the node agent keeps how far it read each file.
    kubernetes_pod_logs_dir: Path = field(default=Path("/var/log/pods"))
    kubernetes_agent_dir: Path = field(default=Path("data/kubernetes-node"))
    # A PersistentVolumeClaim (ReadWriteMany on a multi-node cluster) every job pod mounts at OUTPUT_DIR (its own
    # folder, by subPath) and the engine reads at WORKER_OUTPUT_DIR to report the outputs; None: an emptyDir,
    # outputs not reported.
    kubernetes_output_claim: str | None = None
    # Where the engine reads the values of settings manifests mark secret (never stored by the service): one file
    # per value, named <job type name>.<SETTING> (a mounted Secret, or files a Vault agent writes); None: none.
    kubernetes_secrets_dir: Path | None = None

    # --- Executor hosts (`python -m worker`, the node agent): they talk to the API with an executor token and
    # hold no database credential (worker/executor_client.py), and forward their jobs' log lines to it
    # (ingest/forwarder.py) instead of writing to Elasticsearch: SCALE_API_URL, and EXECUTOR_TOKEN_FILE, a file
    # holding the token (read here, once).
    scale_api_url: str | None = None
    executor_token_file: Path | None = None
    executor_token: str = field(default="", repr=False)

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
        es = elasticsearch_connection(env)
        api_url, token_file, token = _executor_api(env)
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'scale.db'}",
            elasticsearch_url=es.url,
            elasticsearch_api_key=es.api_key,
            elasticsearch_username=es.username,
            elasticsearch_password=es.password,
            elasticsearch_ca_certs=env.get("ELASTICSEARCH_CA_CERTS") or None,
            elasticsearch_ssl_fingerprint=env.get("ELASTICSEARCH_SSL_FINGERPRINT") or None,
            elasticsearch_verify_certs=es.verify_certs,
            log_index_prefix=env.get("LOG_INDEX_PREFIX", "scalelogs"),
            legacy_log_indices=tuple(p.strip() for p in legacy.split(",") if p.strip()),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            workers=int(env.get("WORKERS", "2")),
            api_token=env.get("API_TOKEN") or load_or_create_token(data_dir),
            read_token=env.get("READ_TOKEN") or None,
            kibana_url=(env.get("KIBANA_URL") or "").rstrip("/") or None,
            elasticsearch_timeout=float(env.get("ELASTICSEARCH_TIMEOUT", "10")),
            log_index_replicas=whole_number(env, "LOG_INDEX_REPLICAS", 1, minimum=0),
            log_retention_days=optional_whole_number(env, "LOG_RETENTION_DAYS", minimum=1),
            log_ilm_policy=env.get("LOG_ILM_POLICY") or None,
            max_body_bytes=int(env.get("MAX_BODY_BYTES", str(64 * 1024 * 1024))),
            max_log_line_bytes=int(env.get("MAX_LOG_LINE_BYTES", str(1024 * 1024))),
            max_json_body_bytes=whole_number(env, "MAX_JSON_BODY_BYTES", 4 * 1024 * 1024, minimum=1024),
            follow_max_seconds=float(env.get("FOLLOW_MAX_SECONDS", "300")),
            read_only_list_rows=whole_number(env, "READ_ONLY_LIST_ROWS", 10_000, minimum=100),
            log_clock_skew_seconds=whole_number(env, "LOG_CLOCK_SKEW_SECONDS", 300, minimum=0),
            log_grace_seconds=whole_number(env, "LOG_GRACE_SECONDS", 300, minimum=0),
            long_reads_per_client=whole_number(env, "LONG_READS_PER_CLIENT", 4, minimum=1),
            long_reads_per_worker=_below(
                whole_number(env, "LONG_READS_PER_WORKER", 8, minimum=1), WORKER_THREADS, "LONG_READS_PER_WORKER"
            ),
            worker_lease_seconds=float(env.get("WORKER_LEASE_SECONDS", "60")),
            spool_dir=Path(env.get("SPOOL_DIR", str(data_dir / "spool"))),
            shipper_streams=whole_number(env, "SHIPPER_STREAMS", 2, minimum=1),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            log_format=_choice(env.get("LOG_FORMAT", "json").lower(), "LOG_FORMAT", ("json", "text")),
            metrics_dir=Path(env["PROMETHEUS_MULTIPROC_DIR"]) if env.get("PROMETHEUS_MULTIPROC_DIR") else None,
            worker_metrics_port=int(env["WORKER_METRICS_PORT"]) if env.get("WORKER_METRICS_PORT") else None,
            worker_metrics_host=env.get("WORKER_METRICS_HOST") or "127.0.0.1",
            session_seconds=float(env.get("SESSION_SECONDS", str(12 * 3600))),
            session_idle_seconds=whole_number(env, "SESSION_IDLE_SECONDS", 2 * 3600, minimum=0),
            secure_cookies=_flag(env.get("SECURE_COOKIES")),
            trust_forwarded_for=_flag(env.get("TRUST_X_FORWARDED_FOR")),
            trust_forwarded_host=_flag(env.get("TRUST_X_FORWARDED_HOST")),
            allowed_origins=_origins(env.get("ALLOWED_ORIGINS", "")),
            worker_workspace=env.get("WORKER_WORKSPACE") or "local",
            worker_output_dir=Path(env.get("WORKER_OUTPUT_DIR") or str(data_dir / "outputs")).resolve(),
            worker_output_url=(env.get("WORKER_OUTPUT_URL") or "").rstrip("/") or None,
            worker_sandbox=_flag(env.get("WORKER_SANDBOX", "1")),
            alert_webhook_allow=_origins(env.get("ALERT_WEBHOOK_ALLOW", "")),
            alert_checks=_flag(env.get("ALERT_CHECKS", "1")),
            alert_tick_seconds=_positive(env, "ALERT_TICK_SECONDS", 5.0),
            alert_min_interval_seconds=whole_number(env, "ALERT_MIN_INTERVAL_SECONDS", 60, minimum=1),
            alert_retry_seconds=_positive(env, "ALERT_RETRY_SECONDS", 30.0),
            alert_max_attempts=whole_number(env, "ALERT_MAX_ATTEMPTS", 6, minimum=1),
            alert_link_url=(env.get("ALERT_LINK_URL") or "").rstrip("/") or None,
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=whole_number(env, "SMTP_PORT", 25, minimum=1),
            smtp_security=_choice(
                env.get("SMTP_SECURITY", "none").lower(), "SMTP_SECURITY", ("none", "starttls", "ssl")
            ),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_from=env.get("SMTP_FROM") or "scale-alerts@localhost",
            smtp_timeout=_positive(env, "SMTP_TIMEOUT", 10.0),
            kubeconfig=env.get("KUBECONFIG") or None,
            kubernetes_namespace=env.get("KUBERNETES_NAMESPACE") or "scale",
            kubernetes_pull_policy=_choice(
                env.get("KUBERNETES_IMAGE_PULL_POLICY") or "IfNotPresent",
                "KUBERNETES_IMAGE_PULL_POLICY",
                ("Always", "IfNotPresent", "Never"),
            ),
            kubernetes_job_ttl=whole_number(env, "KUBERNETES_JOB_TTL", 3600, minimum=0),
            kubernetes_pod_logs_dir=Path(env.get("KUBERNETES_POD_LOGS_DIR") or "/var/log/pods"),
            kubernetes_agent_dir=Path(env.get("KUBERNETES_AGENT_DIR") or str(data_dir / "kubernetes-node")),
            kubernetes_output_claim=env.get("KUBERNETES_OUTPUT_CLAIM") or None,
            kubernetes_secrets_dir=Path(env["KUBERNETES_SECRETS_DIR"]) if env.get("KUBERNETES_SECRETS_DIR") else None,
            scale_api_url=api_url,
            executor_token_file=token_file,
            executor_token=token,
        )


def _below(value: int, limit: int, name: str) -> int:
    if value >= limit:
        raise ConfigurationError(
            f"{name} must be below {limit} (the threads of a gunicorn worker, which short routes need), not {value}"
        )
    return value


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 < value < 1e9:
        raise ConfigurationError(f"{name} must be more than 0 and finite, not {raw!r}")
    return value


def _choice(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _origins(value: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _executor_api(env: Mapping[str, str]) -> tuple[str | None, Path | None, str]:
    """scale_api_url, executor_token_file and the token in it, for an executor host (it talks to the API)."""
    url = (env.get("SCALE_API_URL") or "").rstrip("/") or None
    path = Path(env["EXECUTOR_TOKEN_FILE"]).resolve() if env.get("EXECUTOR_TOKEN_FILE") else None
    if url is None:
        return None, None, ""
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"SCALE_API_URL must start with http:// or https://, not {url!r}")
    if path is None:
        raise ConfigurationError("SCALE_API_URL is set: EXECUTOR_TOKEN_FILE must name the file of an executor token")
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise ConfigurationError(f"EXECUTOR_TOKEN_FILE: cannot read {path}: {exc.strerror}") from None
    if not token:
        raise ConfigurationError(f"EXECUTOR_TOKEN_FILE: {path} is empty")
    return url, path, token


class ConfigurationError(ValueError):
    """A variable's value can't be used; the message names the variable and is safe to print (no secret)."""


class Connection(NamedTuple):
    url: str | None
    api_key: str | None
    username: str | None
    password: str | None
    verify_certs: bool


def elasticsearch_connection(env: Mapping[str, str]) -> Connection:
    """ELASTICSEARCH_URL (one or several comma-separated URLs, credentials written in them moved out), the API
    key or the user and password, and ELASTICSEARCH_VERIFY_CERTS, checked against each other."""
    urls, url_user, url_password = split_credentials(env.get("ELASTICSEARCH_URL") or "")
    username = env.get("ELASTICSEARCH_USERNAME") or None
    password = env.get("ELASTICSEARCH_PASSWORD") or None
    api_key = env.get("ELASTICSEARCH_API_KEY") or None
    if url_user is not None:
        if username is not None or password is not None:
            raise ConfigurationError(
                "ELASTICSEARCH_URL holds a user and password, and ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD "
                "are set too: use one of the two"
            )
        username, password = url_user, url_password
    if (username is None) != (password is None):
        raise ConfigurationError("ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD go together: set both or neither")
    if api_key is not None and username is not None:
        raise ConfigurationError(
            "ELASTICSEARCH_API_KEY and a user and password are both set: the service authenticates with one"
        )
    verify = (env.get("ELASTICSEARCH_VERIFY_CERTS") or "true").strip().lower()
    if verify not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ConfigurationError(f"ELASTICSEARCH_VERIFY_CERTS must be true or false, not {verify!r}")
    return Connection(urls or None, api_key, username, password, verify in ("1", "true", "yes", "on"))


def split_credentials(value: str) -> tuple[str, str | None, str | None]:
    """ELASTICSEARCH_URL without credentials (comma-separated URLs, each scheme://host:port[/path]), and the user
    and password written into it (percent-decoded; the same in every URL that has them)."""
    urls: list[str] = []
    found: set[tuple[str, str]] = set()
    for raw in (part.strip() for part in value.split(",")):
        if not raw:
            continue
        parts = urlsplit(raw)
        try:
            parts.port  # noqa: B018 (a port that is not a number raises here)
        except ValueError:
            parts = urlsplit("invalid:")
        # An "@" left in the path: userinfo that was not percent-encoded ("/" or "@" in a password).
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.path + parts.query:
            # Never echo the value: it may hold a password.
            raise ConfigurationError(
                f"ELASTICSEARCH_URL: URL {len(urls) + 1} is not http(s)://[user:password@]host[:port] (a comma "
                "separates several; percent-encode : / @ in a user or password)"
            )
        if parts.username is not None or parts.password is not None:
            found.add((unquote(parts.username or ""), unquote(parts.password or "")))
        host = parts.netloc.rpartition("@")[2]
        urls.append(urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", "")))
    if len(found) > 1:
        raise ConfigurationError("ELASTICSEARCH_URL: the URLs hold different users or passwords")
    if len({url.split(":", 1)[0] for url in urls}) > 1:
        raise ConfigurationError("ELASTICSEARCH_URL mixes http:// and https:// URLs: a cluster uses one of them")
    user, password = found.pop() if found else (None, None)
    return ",".join(urls), user, password


def optional_whole_number(env: Mapping[str, str], name: str, minimum: int) -> int | None:
    """An integer variable (at least minimum), None when unset or empty (the setting is off)."""
    return whole_number(env, name, minimum, minimum) if env.get(name) else None


def whole_number(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    """An integer variable (at least minimum); default when unset or empty."""
    raw = env.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {value}")
    return value


# The service's own bearer tokens (API_TOKEN, READ_TOKEN) are checked when the API starts: long, and not a short
# pattern repeated. A generated token (secrets.token_urlsafe(32)) has 43 characters, `openssl rand -hex 16` 32.
MIN_TOKEN_LENGTH = 32
MIN_TOKEN_DISTINCT = 10
MAKE_A_TOKEN = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def check_service_tokens(settings: Settings) -> None:
    """ConfigurationError (naming the variable, never showing the value) when API_TOKEN or READ_TOKEN is too
    weak to guard the API, or both are the same (every reader would then be the admin)."""
    for name, value in (("API_TOKEN", settings.api_token), ("READ_TOKEN", settings.read_token)):
        if value is None:
            continue
        if len(value) < MIN_TOKEN_LENGTH or len(set(value)) < MIN_TOKEN_DISTINCT:
            raise ConfigurationError(
                f"{name} is too weak to guard the API: it needs at least {MIN_TOKEN_LENGTH} characters, at least "
                f"{MIN_TOKEN_DISTINCT} of them different (it has {len(value)}, {len(set(value))} different); "
                f"make one with: {MAKE_A_TOKEN}"
            )
    if settings.read_token is not None and settings.read_token == settings.api_token:
        raise ConfigurationError("READ_TOKEN must differ from API_TOKEN (every reader would be the admin)")


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
