"""POST /v6/job-types/validation/: the checks a new job type (or an edit) goes through, reported instead of raised,
as Scale's validation answered them: errors make it invalid, warnings do not. Each is {"name", "description"}."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import seed
from jobs.errors import Invalid
from jobs.models import Workspace
from jobs.output_rules import file_outputs
from jobs.records import Validation, ValidationIssue


def validate_job_type(s: Session, manifest: Any, configuration: Any) -> Validation:
    """The same checks as saving a job type (jobs.job_type_store), in its order; then what would not stop the save
    but is likely a mistake (settings without a value, values for settings or outputs the manifest lacks)."""
    errors: list[ValidationIssue] = []
    warnings: list[ValidationIssue] = []
    try:
        seed.check_manifest(manifest)
    except Invalid as exc:
        return Validation(False, [ValidationIssue("INVALID_MANIFEST", str(exc))], [])
    if configuration is not None:
        try:
            seed.check_configuration(configuration)
        except Invalid as exc:
            return Validation(False, [ValidationIssue("INVALID_CONFIGURATION", str(exc))], [])
    configuration = configuration or {}
    workspaces = configuration.get("output_workspaces") or {}
    names = {workspaces["default"]} if workspaces.get("default") else set()
    names |= {name for name in (workspaces.get("outputs") or {}).values() if name}
    known = set(s.scalars(select(Workspace.name).where(Workspace.name.in_(names))))
    for name in sorted(names - known):
        errors.append(ValidationIssue("MISSING_WORKSPACE", f"Workspace '{name}' does not exist"))
    interface = (manifest["job"].get("interface") or {}) if isinstance(manifest["job"], dict) else {}
    declared = [item["name"] for item in interface.get("settings") or []]
    secrets = seed.secret_settings(manifest)
    values = configuration.get("settings") or {}
    for name in declared:
        if name not in secrets and values.get(name) is None:
            warnings.append(ValidationIssue("MISSING_SETTING", f"Setting '{name}' has no value"))
    for name in sorted(set(values) - set(declared)):
        warnings.append(ValidationIssue("UNKNOWN_SETTING", f"Setting '{name}' is not in the manifest"))
    outputs = file_outputs(manifest)
    for name in sorted(set(workspaces.get("outputs") or {}) - outputs):
        warnings.append(ValidationIssue("UNKNOWN_OUTPUT", f"'{name}' is not a file output of the manifest"))
    return Validation(not errors, errors, warnings)
