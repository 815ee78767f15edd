"""Files an execution produced, recorded as Scale files when its executor finishes it (inside that transaction).

Each is checked first: a sane name and relative path, a size of at least zero, a media type, an output the job
type's Seed interface declares, and a workspace that exists and is active (named, or the job's configured
output workspace for that output, as Scale chose it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.errors import Invalid
from jobs.models import Job, Recipe, ScaleFile, Workspace
from jobs.output_rules import file_outputs, guess_media_type, output_file_problem
from jobs.records import OutputFile

# Scale's file_type of files that jobs produce (ingested ones are SOURCE).
PRODUCT = "PRODUCT"


def record_output_files(
    s: Session,
    job: Job,
    exe_id: int,
    manifest: dict,
    configuration: dict,
    files: Sequence[OutputFile],
    now: datetime,
) -> dict[str, list[int]]:
    """Add the files (raises Invalid naming the first bad one); returns {output name: [file ids]}."""
    outputs = file_outputs(manifest)
    workspaces = (configuration or {}).get("output_workspaces") or {}
    names: list[str] = []
    for i, f in enumerate(files):
        problem = output_file_problem(f, outputs)
        if problem:
            raise Invalid(f"Invalid output file {i} ({f.file_name!r}): {problem}")
        name = f.workspace or (workspaces.get("outputs") or {}).get(f.job_output or "") or workspaces.get("default")
        if not name:
            raise Invalid(
                f"Invalid output file {i} ({f.file_name!r}): no workspace given and the job configures no output"
                " workspace for it"
            )
        names.append(name)
    found = {w.name: w for w in s.scalars(select(Workspace).where(Workspace.name.in_(set(names))))}
    for i, name in enumerate(names):
        if name not in found or not found[name].is_active:
            raise Invalid(f"Invalid output file {i} ({files[i].file_name!r}): workspace '{name}' does not exist")
    recipe_type_id = None
    if job.recipe_id is not None:
        recipe_type_id = s.scalar(select(Recipe.recipe_type_id).where(Recipe.id == job.recipe_id))
    rows = []
    for f, name in zip(files, names):
        row = ScaleFile(
            workspace_id=found[name].id,
            file_name=f.file_name,
            file_path=f.file_path if f.file_path is not None else f.file_name,
            file_type=PRODUCT,
            media_type=f.media_type or guess_media_type(f.file_name),
            file_size=f.file_size,
            data_type_tags=[],
            is_deleted=False,
            data_started=f.data_started,
            data_ended=f.data_ended,
            **_inherited(job),
            job_id=job.id,
            job_exe_id=exe_id,
            job_output=f.job_output,
            job_type_id=job.job_type_id,
            recipe_id=job.recipe_id,
            recipe_type_id=recipe_type_id,
            recipe_node=None,
            batch_id=job.batch_id,
            created=now,
            deleted=None,
            last_modified=now,
        )
        s.add(row)
        rows.append(row)
    s.flush()
    by_output: dict[str, list[int]] = {}
    for row in rows:
        if row.job_output is not None:
            by_output.setdefault(row.job_output, []).append(row.id)
    return by_output


def _inherited(job: Job) -> dict[str, Any]:
    """A product's source fields are its job's (Scale copied them from the inputs to the products)."""
    return {
        name: getattr(job, name)
        for name in (
            "source_started",
            "source_ended",
            "source_sensor_class",
            "source_sensor",
            "source_collection",
            "source_task",
        )
    }


def merged_output(output: dict | None, by_output: dict[str, list[int]]) -> dict | None:
    """The execution's output Data with the recorded files added to their outputs."""
    if output is None and not by_output:
        return None
    merged = {"files": {k: list(v) for k, v in ((output or {}).get("files") or {}).items()}, "json": {}}
    merged["json"] = dict((output or {}).get("json") or {})
    for name, ids in by_output.items():
        merged["files"][name] = merged["files"].get(name, []) + ids
    return merged
