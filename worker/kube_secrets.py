"""Settings a job type's manifest marks secret, given to its Kubernetes Jobs through a Secret of their own.

The service never stores those values (jobs.seed.without_secrets), as Scale kept them out of its database (in
Vault). The engine reads them from KUBERNETES_SECRETS_DIR: one file per value, named `<job type name>.<SETTING>`
(SETTING: the variable the setting becomes), which is how a Kubernetes Secret mounted as a volume lays out its
keys and what a Vault agent can write. For each Job it creates a Secret of the Job's name holding just that
Job's values, owned by the Job (ownerReference), so it goes when the Job goes (cancel, TTL, any deletion). The
Job's spec only names the Secret's keys (secretKeyRef), never a value, and no value is ever logged.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from jobs.seed import env_name, reserved_name, secret_settings

# A Secret's keys (and so the file names the values come from).
_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def secret_keys(manifest: dict) -> list[str]:
    """The variables of the manifest's secret settings, in order (those a Secret key can hold)."""
    names = {env_name(n) for n in secret_settings(manifest) if not reserved_name(n)}
    return sorted(k for k in names if _KEY.fullmatch(k))


def read_values(directory: Path | None, job_type: str, keys: list[str]) -> dict[str, str]:
    """The values found for the job type's keys; a missing one is left unset, like a setting with no value."""
    if directory is None:
        return {}
    values = {}
    for key in keys:
        path = directory / f"{job_type}.{key}"
        if path.is_file():
            values[key] = path.read_text()
    return values


def secret_manifest(job: dict, values: dict[str, str]) -> dict:
    """The Secret of a created Job (its name, namespace and uid from the API's answer)."""
    meta = job["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "uid": meta["uid"]}],
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }
