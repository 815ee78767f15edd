"""How a job's process is started: its environment (inputs, settings, output directory), its argv from the
manifest's command (never through a shell), and how its exit code maps to a manifest error."""

from __future__ import annotations

import json
import os
import re
import shlex

from jobs.seed import declared_settings, env_name, reserved_name

# Environment passed through to jobs; everything else comes from the job.
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def job_environment(claimed, output_dir: str, inherit: bool = True) -> dict[str, str]:
    """Inputs and settings as environment variables (Seed: upper-cased names); with inherit, PASS_ENV of the
    worker's own environment too (a container has its image's instead)."""
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ} if inherit else {}
    data = claimed.input or {}
    for name, ids in (data.get("files") or {}).items():
        if not reserved_name(name):
            env[env_name(name)] = " ".join(str(i) for i in ids)  # file ids: there is no file store here
    for name, value in (data.get("json") or {}).items():
        if not reserved_name(name):
            env[env_name(name)] = value if isinstance(value, str) else json.dumps(value)
    # Only what the manifest declares, never a loader or interpreter variable (refused at queue time too; this
    # covers configurations stored before that check).
    declared = declared_settings(claimed.manifest)
    for name, value in ((claimed.configuration or {}).get("settings") or {}).items():
        if value is not None and name in declared and not reserved_name(name):
            env[env_name(name)] = value
    env.update(
        OUTPUT_DIR=output_dir,
        SCALE_JOB_ID=str(claimed.job_id),
        SCALE_EXE_NUM=str(claimed.exe_num),
        SCALE_CLUSTER_ID=claimed.cluster_id,
    )
    return env


def command_argv(command: str, env: dict[str, str]) -> list[str]:
    """Split the command like a shell would, then put values into ${NAME} placeholders of single arguments:
    a value never becomes more than the one argument it stands in (no shell ever sees it)."""

    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        return env.get(name, m.group(0))

    return [_PLACEHOLDER.sub(value, arg) for arg in shlex.split(command)]


def exit_error(manifest: dict, code: int) -> dict | None:
    """The manifest error for an exit code, or None (the store records algorithm-unknown)."""
    for error in (manifest.get("job") or {}).get("errors") or []:
        if error.get("code") == code:
            return {"name": error["name"]}
    return None
