"""The log index template: loaded from mappings/, put under the configured prefix, only when it changed."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)

TEMPLATE_FILE = Path(__file__).resolve().parent.parent / "mappings" / "logs-template.json"


def template_name(prefix: str) -> str:
    return f"{prefix}-logs"


def template_body(prefix: str) -> dict:
    body = json.loads(TEMPLATE_FILE.read_text())
    # "<prefix>-2*": the daily indices <prefix>-YYYY.MM.DD and nothing else sharing the prefix.
    body["index_patterns"] = [f"{prefix}-2*"]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    body.setdefault("_meta", {})["checksum"] = digest
    return body


def ensure_template(es: Elasticsearch, prefix: str) -> bool:
    """Put the template unless the cluster already has this exact one; True when it was put."""
    body = template_body(prefix)
    name = template_name(prefix)
    found = es.options(ignore_status=404).indices.get_index_template(name=name)
    for item in found.body.get("index_templates", []) if found.meta.status == 200 else []:
        meta = item["index_template"].get("_meta") or {}
        if meta.get("checksum") == body["_meta"]["checksum"]:
            return False
    es.indices.put_index_template(name=name, body=body)
    log.info("put index template %s for %s", name, body["index_patterns"])
    return True


def ensure_template_quietly(es: Elasticsearch, prefix: str) -> bool:
    """For start-up: Elasticsearch being down must not stop the service (the shipper retries later)."""
    try:
        ensure_template(es, prefix)
        return True
    except Exception as exc:  # any failure here is retried before the first bulk write
        log.warning("could not apply the log index template now: %s", exc)
        return False
