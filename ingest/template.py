"""The log index template: loaded from mappings/, put under the configured prefix with the configured replicas
(LOG_INDEX_REPLICAS) and lifecycle policy (LOG_ILM_POLICY), only when it changed (a checksum of the whole body
is kept in its _meta, so changing any of these puts it again)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from elasticsearch import Elasticsearch

from core.preflight import TemplateCheck

log = logging.getLogger(__name__)

TEMPLATE_FILE = Path(__file__).resolve().parent.parent / "mappings" / "logs-template.json"


@dataclass(frozen=True)
class LogTemplate:
    """What the template is made of besides mappings/logs-template.json."""

    prefix: str
    replicas: int = 1
    ilm_policy: str | None = None

    @classmethod
    def of(cls, settings) -> LogTemplate:
        return cls(settings.log_index_prefix, settings.log_index_replicas, settings.log_ilm_policy)

    @property
    def name(self) -> str:
        return template_name(self.prefix)

    def body(self) -> dict:
        body = json.loads(TEMPLATE_FILE.read_text())
        # "<prefix>-2*": the daily indices <prefix>-YYYY.MM.DD and nothing else sharing the prefix.
        body["index_patterns"] = [f"{self.prefix}-2*"]
        index = body["template"]["settings"]["index"]
        index["number_of_replicas"] = self.replicas
        if self.ilm_policy:
            # The cluster's lifecycle policy deletes old indices (its delete phase) instead of `ingest prune`.
            index["lifecycle"] = {"name": self.ilm_policy}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
        body.setdefault("_meta", {})["checksum"] = digest
        return body


def template_name(prefix: str) -> str:
    return f"{prefix}-logs"


def template_body(prefix: str) -> dict:
    return LogTemplate(prefix).body()


def as_template(template: LogTemplate | str) -> LogTemplate:
    return template if isinstance(template, LogTemplate) else LogTemplate(template)


def is_current(es: Elasticsearch, template: LogTemplate | str) -> bool:
    """Whether the cluster holds this exact template (needs monitor or manage_index_templates)."""
    template = as_template(template)
    checksum = template.body()["_meta"]["checksum"]
    found = es.options(ignore_status=404).indices.get_index_template(name=template.name)
    items = found.body.get("index_templates", []) if found.meta.status == 200 else []
    return any((item["index_template"].get("_meta") or {}).get("checksum") == checksum for item in items)


def ensure_template(es: Elasticsearch, template: LogTemplate | str) -> bool:
    """Put the template unless the cluster already has this exact one; True when it was put."""
    template = as_template(template)
    if is_current(es, template):
        return False
    body = template.body()
    es.indices.put_index_template(name=template.name, body=body)
    log.info("put index template %s for %s", template.name, body["index_patterns"])
    return True


def template_check(settings) -> TemplateCheck:
    """For the start-up check (core/preflight.py): is it current, and put it."""
    template = LogTemplate.of(settings)
    return TemplateCheck(
        current=lambda es: is_current(es, template),
        put=lambda es: ensure_template(es, template),
        ilm_policy=template.ilm_policy,
    )


def ensure_template_quietly(es: Elasticsearch, template: LogTemplate | str) -> bool:
    """For start-up: Elasticsearch being down must not stop the service (the shipper retries later)."""
    try:
        ensure_template(es, template)
        return True
    except Exception as exc:  # any failure here is retried before the first bulk write
        log.warning("could not apply the log index template now: %s", exc)
        return False
