"""The start-up check of the Elasticsearch connection (gunicorn's master before it forks, the worker, the ingest
command line): a setting that can never work stops the program with one line naming the problem and the
variable; a cluster that is merely down (or busy) does not, since the service copes with that at run time.

Never fatal: the nodes do not answer (connection refused, timeout) or answer 429/5xx.
Fatal (`Refused`, one line, no secret in it):
- a CA file that can't be read, or a certificate the CA, the fingerprint or this machine does not trust;
- HTTPS to a node that speaks HTTP;
- 401: the API key, or the user and password, are not accepted (or the cluster wants credentials);
- a privilege the program needs that the credentials lack (POST _security/user/_has_privileges), except
  manage_index_templates when the current template is in place already (an operator applied it).

A cluster without security (no _security API) passes: everything is allowed there.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from elastic_transport import ConnectionError, ConnectionTimeout, TlsError, TransportError
from elasticsearch import ApiError, Elasticsearch

from core.elastic import describe, elasticsearch_client, hosts, uses_tls
from settings import Settings

ROLES_FILE = "mappings/es-roles.json"
TEMPLATE_PRIVILEGE = "manage_index_templates"
BUSY = (429, 502, 503, 504)


class Refused(Exception):
    """The connection can never work as configured; str(exc) is the one line to print (no secret in it)."""


@dataclass(frozen=True)
class Needs:
    """Privileges a program needs: cluster privileges, and index privileges per index pattern, with the role
    of mappings/es-roles.json that grants each (for the message)."""

    cluster: Mapping[str, str] = field(default_factory=dict)  # privilege -> role
    indices: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (pattern, privilege) -> role

    def __add__(self, other: Needs) -> Needs:
        return Needs({**self.cluster, **other.cluster}, {**self.indices, **other.indices})


def writer_needs(settings: Settings) -> Needs:
    """The shipper: put the template (or find it current), create the daily indices, create documents."""
    ours = f"{settings.log_index_prefix}-*"
    role = "scalelogs_writer"
    return Needs({TEMPLATE_PRIVILEGE: role}, {(ours, "create_index"): role, (ours, "create_doc"): role})


def reader_needs(settings: Settings) -> Needs:
    """Reads and searches on our indices and the legacy ones; GET / (readiness) needs monitor on a real node."""
    role = "scalelogs_reader"
    return Needs({"monitor": role}, {(pattern, "read"): role for pattern in settings.log_read_indices})


def pruner_needs(settings: Settings) -> Needs:
    """Retention: list the daily indices of the prefix, delete the old ones by name."""
    ours = f"{settings.log_index_prefix}-*"
    role = "scalelogs_retention"
    return Needs({}, {(ours, "view_index_metadata"): role, (ours, "delete_index"): role})


@dataclass(frozen=True)
class TemplateCheck:
    """The log index template, for the check: current(es) tells whether the cluster holds it as it should be
    (then manage_index_templates is not needed); put(es) puts it (a template the cluster refuses, e.g. an
    unknown setting, can never work)."""

    current: Callable[[Elasticsearch], bool]
    put: Callable[[Elasticsearch], object]
    ilm_policy: str | None = None


def check_connection(settings: Settings, needs: Needs, template: TemplateCheck | None = None) -> list[str]:
    """Raise Refused when the connection can never work; otherwise the warnings to print (e.g. the cluster
    does not answer now)."""
    check_ca_file(settings)
    # Each node once (no retry of the same one), and quickly: this is a yes/no question.
    es = elasticsearch_client(settings).options(
        request_timeout=min(settings.elasticsearch_timeout, 10.0), max_retries=len(hosts(settings)) - 1
    )
    warnings = []
    tls_variables = settings.elasticsearch_ca_certs or settings.elasticsearch_ssl_fingerprint
    if not uses_tls(settings) and tls_variables:
        warnings.append("ELASTICSEARCH_URL says http://: ELASTICSEARCH_CA_CERTS/ELASTICSEARCH_SSL_FINGERPRINT unused")
    elif not settings.elasticsearch_verify_certs:
        warnings.append("ELASTICSEARCH_VERIFY_CERTS is off: the cluster's certificate is not checked")
    with quiet_transport():
        try:
            who = es.security.authenticate()
            missing = missing_privileges(es, needs)
            current = template is not None and template_present(es, template.current)
            if current:
                missing.pop(TEMPLATE_PRIVILEGE, None)
            if missing:
                raise Refused(lacking(settings, who.body, missing))
            if template is not None and not current:
                put_template(es, template)
        except ApiError as exc:
            if exc.meta.status == 401:
                raise Refused(not_accepted(settings)) from None
            if exc.meta.status in BUSY:
                warnings.append(busy(settings, exc.meta.status))
            # Otherwise no security API (400 no handler, or 500 "security must be enabled"): everything is allowed.
        except TlsError as exc:
            raise Refused(untrusted(settings, str(exc))) from None
        except (ConnectionError, ConnectionTimeout) as exc:
            warnings.append(down(settings, exc))
        finally:
            es.close()
    return warnings


@contextmanager
def quiet_transport() -> Iterator[None]:
    """The client logs each failed try with its stack; at start-up the one line we print says it all."""
    logger = logging.getLogger("elastic_transport")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_ca_file(settings: Settings) -> None:
    path = settings.elasticsearch_ca_certs
    if not path or settings.elasticsearch_ssl_fingerprint or not uses_tls(settings):
        return
    try:
        ssl.create_default_context(cafile=path)
    except OSError as exc:
        # ssl.SSLError is an OSError too: a file that holds no PEM certificate
        reason = exc.strerror if not isinstance(exc, ssl.SSLError) else "it holds no PEM certificate"
        raise Refused(f"ELASTICSEARCH_CA_CERTS: cannot use {path}: {reason}") from None


def missing_privileges(es: Elasticsearch, needs: Needs) -> dict[str, str]:
    """What the credentials lack of needs: {"<privilege>[ on <pattern>]": role}."""
    patterns: dict[str, list[str]] = {}
    for pattern, privilege in needs.indices:
        patterns.setdefault(pattern, []).append(privilege)
    answer = es.security.has_privileges(
        cluster=list(needs.cluster) or None,
        index=[{"names": [pattern], "privileges": privileges} for pattern, privileges in patterns.items()] or None,
    ).body
    missing = {name: role for name, role in needs.cluster.items() if not answer.get("cluster", {}).get(name)}
    for (pattern, privilege), role in needs.indices.items():
        if not answer.get("index", {}).get(pattern, {}).get(privilege):
            missing[f"{privilege} on {pattern}"] = role
    return missing


def template_present(es: Elasticsearch, template_current: Callable[[Elasticsearch], bool]) -> bool:
    try:
        return template_current(es)
    except ApiError as exc:
        if exc.meta.status == 403:  # can't even read templates (neither manage_index_templates nor monitor)
            return False
        raise


def put_template(es: Elasticsearch, template: TemplateCheck) -> None:
    """Put the template now: a cluster that refuses it (400) can never store a line."""
    try:
        template.put(es)
    except ApiError as exc:
        if exc.meta.status != 400:
            raise
        reason = exc.message if isinstance(exc.message, str) else str(exc)
        if isinstance(exc.body, dict):
            reason = (exc.body.get("error") or {}).get("reason") or reason
        hint = ""
        if template.ilm_policy and "lifecycle" in reason:
            hint = "LOG_ILM_POLICY: the cluster has no index lifecycle management (ILM); "
        raise Refused(f"{hint}the cluster refuses the log index template: {reason}") from None


def who_label(settings: Settings, authenticated: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """(the credentials as the message names them, the variable(s) that set them)."""
    if settings.elasticsearch_api_key:
        return "the API key", "ELASTICSEARCH_API_KEY"
    if settings.elasticsearch_username:
        return f"the user {settings.elasticsearch_username}", "ELASTICSEARCH_USERNAME"
    user = (authenticated or {}).get("username")
    return (f"the anonymous user {user}" if user else "anonymous access"), "ELASTICSEARCH_API_KEY"


def not_accepted(settings: Settings) -> str:
    if settings.elasticsearch_api_key:
        return "ELASTICSEARCH_API_KEY is not accepted by the cluster (401)"
    if settings.elasticsearch_username:
        return (
            f"ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD: the user {settings.elasticsearch_username} and its "
            "password are not accepted by the cluster (401)"
        )
    return (
        "the cluster asks for credentials (401): set ELASTICSEARCH_API_KEY, or ELASTICSEARCH_USERNAME and "
        "ELASTICSEARCH_PASSWORD"
    )


def lacking(settings: Settings, authenticated: Mapping[str, Any], missing: Mapping[str, str]) -> str:
    who, variable = who_label(settings, authenticated)
    parts = []
    for what, role in missing.items():
        kind = "index privilege" if " on " in what else "cluster privilege"
        hint = ""
        if what == TEMPLATE_PRIVILEGE:
            hint = " (to put the log index template; or apply it once with `python -m ingest apply-template`)"
        parts.append(f"the {kind} {what}{hint} (role {role})")
    return f"{variable}: {who} lacks {', '.join(parts)}; the roles are in {ROLES_FILE}"


def untrusted(settings: Settings, error: str) -> str:
    if "wrong version number" in error or "record layer failure" in error or "packet length too long" in error:
        return "ELASTICSEARCH_URL: the cluster does not answer HTTPS there (use http://, or the HTTPS port)"
    if settings.elasticsearch_ssl_fingerprint:
        return "ELASTICSEARCH_SSL_FINGERPRINT: the cluster's certificate does not have this fingerprint"
    if "hostname mismatch" in error.lower() or "doesn't match" in error or "not valid for" in error:
        names = ", ".join(hosts(settings))
        return f"ELASTICSEARCH_URL: the cluster's certificate is not valid for the host name in {names}"
    if settings.elasticsearch_ca_certs:
        return "ELASTICSEARCH_CA_CERTS: the cluster's certificate is not signed by it"
    return (
        "ELASTICSEARCH_CA_CERTS: the cluster's certificate is not signed by a CA this machine trusts; set "
        "ELASTICSEARCH_CA_CERTS to the CA's PEM file (or ELASTICSEARCH_SSL_FINGERPRINT)"
    )


def down(settings: Settings, exc: TransportError) -> str:
    hint = ""
    if not uses_tls(settings) and any("RemoteDisconnected" in text for text in causes(exc)):
        # Connected, but no HTTP answer: what an HTTPS node does with plain HTTP (or a node going away).
        hint = " (if the cluster uses HTTPS, ELASTICSEARCH_URL must say https://)"
    return (
        f"Elasticsearch does not answer at {describe(settings)}: {type(exc).__name__}{hint}; starting anyway "
        "(log routes answer 503 and lines stay spooled until it does)"
    )


def causes(exc: BaseException) -> list[str]:
    """The texts of an exception and of what caused it (the client's own message is only "Connection error")."""
    found: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(found) < 10:
        found.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
    return found


def busy(settings: Settings, status: int) -> str:
    return f"Elasticsearch at {describe(settings)} answered {status} (busy); starting anyway"
