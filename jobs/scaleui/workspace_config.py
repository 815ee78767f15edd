"""Workspace configurations as Scale v6 wrote them: {"version"?: "1.0", "broker": {"type": host|nfs|s3, ...}}.

Host-path workspaces are what this service's executors write into; NFS and S3 brokers are kept as the description
of where the files live (nothing here moves files). An S3 secret key is stored as given but never shown again
(public_configuration)."""

from __future__ import annotations

import copy
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from jobs.errors import Invalid

_NFS_PATH = r"^[^:/\s]+:/.*$"
BROKERS: dict[str, dict[str, Any]] = {
    "host": {
        "type": "object",
        "required": ["type", "host_path"],
        "properties": {"type": {"const": "host"}, "host_path": {"type": "string", "pattern": "^/"}},
        "additionalProperties": False,
    },
    "nfs": {
        "type": "object",
        "required": ["type", "nfs_path"],
        "properties": {"type": {"const": "nfs"}, "nfs_path": {"type": "string", "pattern": _NFS_PATH}},
        "additionalProperties": False,
    },
    "s3": {
        "type": "object",
        "required": ["type", "bucket_name"],
        "properties": {
            "type": {"const": "s3"},
            "bucket_name": {"type": "string", "minLength": 1},
            "credentials": {
                "type": "object",
                "required": ["access_key_id", "secret_access_key"],
                "properties": {"access_key_id": {"type": "string"}, "secret_access_key": {"type": "string"}},
                "additionalProperties": False,
            },
            "host_path": {"type": "string", "pattern": "^/"},
            "region_name": {"type": "string"},
        },
        "additionalProperties": False,
    },
}
CONFIGURATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["broker"],
    "properties": {
        "version": {"enum": ["1.0", "6"]},
        "broker": {"type": "object", "required": ["type"], "properties": {"type": {"enum": list(BROKERS)}}},
    },
    "additionalProperties": False,
}
HIDDEN = "secret_access_key"
# Scale derived a workspace's name from its title when none was given.
_NOT_NAME = re.compile(r"[^a-z0-9]+")
NAME_PATTERN = "^[a-zA-Z0-9_-]{1,50}$"


def _problem(schema: dict, value: Any) -> str | None:
    error = best_match(Draft202012Validator(schema).iter_errors(value))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def check_configuration(configuration: Any) -> None:
    """Raises Invalid("Workspace configuration invalid: ...") unless it is a known broker, fully described."""
    problem = _problem(CONFIGURATION_SCHEMA, configuration)
    if problem is None:
        broker = configuration["broker"]
        within = _problem(BROKERS[broker["type"]], broker)
        if within is not None:
            problem = f"broker.{within}" if ": " in within else f"broker: {within}"
    if problem:
        raise Invalid(f"Workspace configuration invalid: {problem}")


def public_configuration(configuration: dict) -> dict:
    """The configuration as shown: an S3 secret key is never returned."""
    shown = copy.deepcopy(configuration or {})
    credentials = (shown.get("broker") or {}).get("credentials")
    if isinstance(credentials, dict):
        credentials.pop(HIDDEN, None)
    return shown


def name_from_title(title: str) -> str:
    return _NOT_NAME.sub("-", title.lower()).strip("-")[:50]


def with_kept_secret(configuration: Any, stored: dict | None) -> Any:
    """An edited configuration as a client that read it sends it back: S3 credentials without their secret key
    (never shown) keep the stored one when the key id is the same."""
    if not isinstance(configuration, dict) or not isinstance(configuration.get("broker"), dict):
        return configuration
    credentials = configuration["broker"].get("credentials")
    old = ((stored or {}).get("broker") or {}).get("credentials")
    if (
        isinstance(credentials, dict)
        and HIDDEN not in credentials
        and isinstance(old, dict)
        and old.get("access_key_id") == credentials.get("access_key_id")
        and HIDDEN in old
    ):
        configuration = copy.deepcopy(configuration)
        configuration["broker"]["credentials"][HIDDEN] = old[HIDDEN]
    return configuration
