"""Seed manifests, Data and job configuration: their JSON schemas, validation and derived values. No SQL here."""

from __future__ import annotations

import copy
import re
from typing import Any, overload

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from jobs.errors import Invalid

NAME = {"type": "string", "pattern": "^[a-z0-9_-]+$", "maxLength": 50}
SEMVER = {"type": "string", "pattern": r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$", "maxLength": 50}
INPUT_NAME = {"type": "string", "pattern": "^[a-zA-Z0-9_-]+$"}
JSON_TYPES = ["string", "integer", "number", "boolean", "object", "array"]
INT32_MAX = 2**31 - 1  # timeout and priority are 32-bit columns on PostgreSQL

_FILE_IO = {
    "type": "object",
    "properties": {
        "name": INPUT_NAME,
        "required": {"type": "boolean"},
        "multiple": {"type": "boolean"},
        "mediaTypes": {"type": "array", "items": {"type": "string"}},
        "pattern": {"type": "string"},
        "mediaType": {"type": "string"},
        "partial": {"type": "boolean"},
    },
    "required": ["name"],
}
_JSON_IO = {
    "type": "object",
    "properties": {
        "name": INPUT_NAME,
        "type": {"enum": JSON_TYPES},
        "required": {"type": "boolean"},
        "key": {"type": "string"},
    },
    "required": ["name", "type"],
}
_IO = {
    "type": "object",
    "properties": {"files": {"type": "array", "items": _FILE_IO}, "json": {"type": "array", "items": _JSON_IO}},
}

MANIFEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["seedVersion", "job"],
    "properties": {
        "seedVersion": {"type": "string"},
        "job": {
            "type": "object",
            "required": ["name", "jobVersion", "packageVersion"],
            "properties": {
                "name": NAME,
                "jobVersion": SEMVER,
                "packageVersion": SEMVER,
                "title": {"type": "string"},
                "description": {"type": "string"},
                "maintainer": {"type": "object"},
                "timeout": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
                "interface": {
                    "type": "object",
                    "properties": {
                        "command": {"type": "string"},
                        "inputs": _IO,
                        "outputs": _IO,
                        "mounts": {"type": "array"},
                        "settings": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string", "minLength": 1},
                                    "secret": {"type": "boolean"},
                                },
                            },
                        },
                    },
                },
                "resources": {
                    "type": "object",
                    "properties": {
                        "scalar": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "value"],
                                "properties": {
                                    "name": {"type": "string", "minLength": 1},
                                    "value": {"type": "number", "minimum": 0},
                                    "inputMultiplier": {"type": "number", "minimum": 0},
                                },
                            },
                        }
                    },
                },
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "name", "category"],
                        "properties": {
                            "code": {"type": "integer"},
                            "name": NAME,
                            "title": {"type": "string", "maxLength": 50},
                            "description": {"type": "string", "maxLength": 250},
                            "category": {"enum": ["job", "data"]},
                        },
                    },
                },
            },
        },
    },
}

DATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"enum": ["6", "7"]},
        "files": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "integer", "minimum": 1}},
        },
        "json": {"type": "object"},
    },
}

CONFIGURATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"enum": ["6", "7"]},
        "mounts": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "output_workspaces": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "default": {"type": "string"},
                "outputs": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "priority": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
        "settings": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
    },
}

DEFAULT_PRIORITY = 100
DEFAULT_TIMEOUT = 1800
# Scale's minimum resources for any job.
MINIMUM_RESOURCES = {"cpus": 0.25, "mem": 128.0, "disk": 0.0, "gpus": 0.0}
SEED_CATEGORIES = {"job": "ALGORITHM", "data": "DATA"}
_JSON_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _problem(schema: dict, value: Any) -> str | None:
    error = best_match(Draft202012Validator(schema).iter_errors(value))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def env_name(name: str) -> str:
    """The environment variable an input or setting becomes in the job (Seed: upper-cased names)."""
    return re.sub(r"\W", "_", name).upper()


# Variables that change how the job's programs load and run, not what they work on: a queued job must not set
# them (LD_PRELOAD runs code of its choosing in every process, PATH and PYTHON* pick the programs and modules).
_RESERVED = re.compile(r"LD_.*|PATH|PYTHON.*")


def reserved_name(name: str) -> bool:
    return _RESERVED.fullmatch(env_name(name)) is not None


RESERVED_PROBLEM = "LD_*, PATH and PYTHON* variables may not be set by a job"


def check_manifest(manifest: Any) -> None:
    problem = _problem(MANIFEST_SCHEMA, manifest)
    if problem:
        raise Invalid(f"Invalid manifest: {problem}")
    interface = manifest["job"].get("interface") or {}
    declared = [i["name"] for kind in ("files", "json") for i in (interface.get("inputs") or {}).get(kind, [])]
    for name in declared + [s["name"] for s in interface.get("settings") or []]:
        if reserved_name(name):
            raise Invalid(f"Invalid manifest: '{name}' is refused: {RESERVED_PROBLEM}")
    names = [i["name"] for kind in ("files", "json") for i in (interface.get("inputs") or {}).get(kind, [])]
    if len(names) != len(set(names)):
        raise Invalid("Invalid manifest: input names must be unique")
    errors = [e["name"] for e in manifest["job"].get("errors", [])]
    if len(errors) != len(set(errors)):
        raise Invalid("Invalid manifest: error names must be unique")


def normalized_data(data: Any) -> dict:
    """Data as stored and shown: {"files": {...}, "json": {...}}; raises Invalid("Invalid data: ...")."""
    problem = _problem(DATA_SCHEMA, data)
    if problem:
        raise Invalid(f"Invalid data: {problem}")
    return {"files": dict(data.get("files") or {}), "json": dict(data.get("json") or {})}


def check_configuration(configuration: Any) -> None:
    problem = _problem(CONFIGURATION_SCHEMA, configuration)
    if problem:
        raise Invalid(f"Job type configuration invalid: {problem}")
    for name in configuration.get("settings") or {}:
        if reserved_name(name):
            raise Invalid(f"Job type configuration invalid: settings.{name}: {RESERVED_PROBLEM}")


def declared_settings(manifest: dict) -> set[str]:
    """The settings a job may be given: those its manifest's interface declares."""
    return {s["name"] for s in ((manifest.get("job") or {}).get("interface") or {}).get("settings") or []}


def inputs_of(manifest: dict) -> dict:
    return ((manifest.get("job") or {}).get("interface") or {}).get("inputs") or {}


def check_job_data(manifest: dict, data: dict, known_file_ids: set[int]) -> None:
    """The data satisfies the job type's Seed interface; raises Invalid("Invalid job data: ...")."""
    inputs = inputs_of(manifest)
    file_inputs = {i["name"]: i for i in inputs.get("files", [])}
    json_inputs = {i["name"]: i for i in inputs.get("json", [])}
    for name in data["files"]:
        if name in json_inputs:
            raise Invalid(f"Invalid job data: input '{name}' takes JSON, not files")
        if name not in file_inputs:
            raise Invalid(f"Invalid job data: '{name}' is not an input of this job type")
    for name in data["json"]:
        if name in file_inputs:
            raise Invalid(f"Invalid job data: input '{name}' takes files, not JSON")
        if name not in json_inputs:
            raise Invalid(f"Invalid job data: '{name}' is not an input of this job type")
    for name, spec in file_inputs.items():
        ids = data["files"].get(name) or []
        if not ids and spec.get("required", True):
            raise Invalid(f"Invalid job data: required input '{name}' was not provided")
        if len(ids) > 1 and not spec.get("multiple", False):
            raise Invalid(f"Invalid job data: input '{name}' accepts only one file")
        for file_id in ids:
            if file_id not in known_file_ids:
                raise Invalid(f"Invalid job data: file {file_id} does not exist")
    for name, spec in json_inputs.items():
        if name not in data["json"]:
            if spec.get("required", True):
                raise Invalid(f"Invalid job data: required input '{name}' was not provided")
            continue
        if not _JSON_CHECKS[spec["type"]](data["json"][name]):
            raise Invalid(f"Invalid job data: input '{name}' must be of type {spec['type']}")


def secret_settings(manifest: dict) -> set[str]:
    settings = ((manifest.get("job") or {}).get("interface") or {}).get("settings") or []
    return {s["name"] for s in settings if s.get("secret")}


@overload
def without_secrets(configuration: dict, manifest: dict) -> dict: ...
@overload
def without_secrets(configuration: None, manifest: dict) -> None: ...
def without_secrets(configuration: dict | None, manifest: dict) -> dict | None:
    """The configuration with every secret setting removed (they are never stored or returned)."""
    if configuration is None:
        return None
    secrets = secret_settings(manifest)
    clean = copy.deepcopy(configuration)
    if "settings" in clean:
        clean["settings"] = {k: v for k, v in clean["settings"].items() if k not in secrets}
    return clean


def effective_configuration(job_type_configuration: dict | None, job_configuration: dict | None) -> dict:
    """The job's override merged over the job type's, in Scale's key order."""
    base = job_type_configuration or {}
    over = job_configuration or {}
    base_ws = base.get("output_workspaces") or {}
    over_ws = over.get("output_workspaces") or {}
    workspaces = {
        "default": over_ws.get("default", base_ws.get("default")),
        "outputs": {**(base_ws.get("outputs") or {}), **(over_ws.get("outputs") or {})},
    }
    if workspaces["default"] is None:
        del workspaces["default"]
    return {
        "mounts": {**(base.get("mounts") or {}), **(over.get("mounts") or {})},
        "priority": over.get("priority", base.get("priority", DEFAULT_PRIORITY)),
        "output_workspaces": workspaces,
        "settings": {**(base.get("settings") or {}), **(over.get("settings") or {})},
    }


def job_resources(manifest: dict, input_file_size: float) -> dict:
    """Scale's resource calculation: {"resources": {"cpus", "mem", "disk", "gpus", ...}}.

    Each scalar is value + inputMultiplier x input size (MiB), at least Scale's minimum; disk is at least the
    input size; sharedMem is not a resource Scale schedules, so it is dropped.
    """
    resources = dict(MINIMUM_RESOURCES)
    for scalar in ((manifest.get("job") or {}).get("resources") or {}).get("scalar", []):
        name = scalar["name"]
        if name == "sharedMem":
            continue
        value = float(scalar["value"]) + float(scalar.get("inputMultiplier", 0.0)) * input_file_size
        resources[name] = max(value, MINIMUM_RESOURCES.get(name, 0.0))
    resources["disk"] = max(resources["disk"], float(input_file_size))
    return {"resources": resources}


def job_errors(manifest: dict) -> list[dict]:
    """The manifest's errors as rows of the errors table (category mapped to Scale's)."""
    return [
        {
            "name": e["name"],
            "title": e.get("title"),
            "description": e.get("description"),
            "category": SEED_CATEGORIES[e["category"]],
        }
        for e in (manifest["job"].get("errors") or [])
    ]
