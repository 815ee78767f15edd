"""The checks a reported output file must pass, without SQL: the worker checks its files before reporting them
and jobs/output_files.py again when it records them (shared, so both say the same)."""

from __future__ import annotations

import mimetypes
import re

from jobs.records import OutputFile

MAX_NAME = 250
MAX_PATH = 1000
MEDIA_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DEFAULT_MEDIA_TYPE = "application/octet-stream"


def guess_media_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or DEFAULT_MEDIA_TYPE


def output_file_problem(f: OutputFile, outputs: set[str]) -> str | None:
    """What is wrong with the file as reported (outputs: the job type's file output names), or None."""
    name, path = f.file_name, f.file_path if f.file_path is not None else f.file_name
    if not name or len(name) > MAX_NAME or name in (".", "..") or "/" in name or "\\" in name:
        return f"file_name must be 1 to {MAX_NAME} characters without / or \\ (not . or ..)"
    if _CONTROL.search(name) or _CONTROL.search(path):
        return "file_name and file_path must not contain control characters"
    if not path or len(path) > MAX_PATH or path.startswith("/") or "\\" in path:
        return f"file_path must be a relative path of 1 to {MAX_PATH} characters, / between its parts"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "file_path must not have empty, . or .. parts"
    if f.file_size < 0:
        return "file_size must not be negative"
    if f.media_type is not None and (len(f.media_type) > 250 or not MEDIA_TYPE.match(f.media_type)):
        return "media_type must look like type/subtype"
    if f.job_output is not None and f.job_output not in outputs:
        return f"'{f.job_output}' is not a file output of this job type"
    if f.data_started and f.data_ended and f.data_started > f.data_ended:
        return "data_started must not be after data_ended"
    return None


def file_output_specs(manifest: dict) -> list[dict]:
    """The file outputs the manifest's Seed interface declares (name, pattern, ...), in order."""
    outputs = ((manifest.get("job") or {}).get("interface") or {}).get("outputs") or {}
    return [o for o in outputs.get("files") or [] if isinstance(o, dict)]


def file_outputs(manifest: dict) -> set[str]:
    """Names of the file outputs the manifest's Seed interface declares."""
    return {o["name"] for o in file_output_specs(manifest) if "name" in o}
