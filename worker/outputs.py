"""What a job wrote to its OUTPUT_DIR, reported as the files its execution produced.

Each execution writes into WORKER_OUTPUT_DIR/<cluster_id>/, a folder of the workspace WORKER_WORKSPACE (a host-path
workspace the service side creates: scripts/run does for the local worker; an executor may not), so the files
stay where their records say they are after the job ends. Each
regular file becomes an OutputFile: its name, its path in the workspace, its size, a media type guessed from its
name, and the Seed output whose pattern matches it (none when no pattern does). Symbolic links are not followed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath

from jobs.errors import Invalid
from jobs.output_rules import file_output_specs, file_outputs, guess_media_type, output_file_problem
from jobs.records import ClaimedExecution, OutputFile
from worker.executor_client import Executions

log = logging.getLogger("worker")


def output_patterns(manifest: dict) -> list[tuple[str, str]]:
    """(output name, glob pattern) of the manifest's file outputs, in their order."""
    return [(o["name"], o["pattern"]) for o in file_output_specs(manifest) if o.get("name") and o.get("pattern")]


class Outputs:
    def __init__(self, root: Path, workspace: str):
        self.root = root
        self.workspace = workspace

    def directory(self, claimed: ClaimedExecution) -> Path:
        """The execution's OUTPUT_DIR (created)."""
        path = self.root / claimed.cluster_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def collect(self, claimed: ClaimedExecution, directory: Path) -> list[OutputFile]:
        return self.collect_files(claimed.id, claimed.cluster_id, claimed.manifest, directory)

    def collect_files(self, exe_id: int, cluster_id: str, manifest: dict, directory: Path) -> list[OutputFile]:
        """The regular files under directory, in path order; files the store would refuse are left out (logged).
        Nothing when the folder can't be read: the execution still ends, without them (logged)."""
        try:
            return self._files(exe_id, cluster_id, manifest, directory)
        except OSError as exc:
            log.warning("could not list the outputs of execution %s: %s", exe_id, exc)
            return []

    def _files(self, exe_id: int, cluster_id: str, manifest: dict, directory: Path) -> list[OutputFile]:
        patterns = output_patterns(manifest)
        declared = file_outputs(manifest)
        found: list[OutputFile] = []
        for top, dirs, names in os.walk(directory):
            dirs.sort()
            for name in sorted(names):
                path = Path(top) / name
                if path.is_symlink() or not path.is_file():
                    continue
                relative = PurePosixPath(path.relative_to(directory).as_posix())
                output = next((o for o, pattern in patterns if relative.match(pattern)), None)
                reported = OutputFile(
                    file_name=name,
                    file_size=path.stat().st_size,
                    file_path=f"{cluster_id}/{relative}",
                    media_type=guess_media_type(name),
                    workspace=self.workspace,
                    job_output=output,
                )
                problem = output_file_problem(reported, declared)
                if problem:
                    log.warning("execution %s: not reporting output %r: %s", exe_id, str(relative), problem)
                    continue
                found.append(reported)
        return found


def finish_with_files(executions: Executions, exe_id: int, status: str, error: dict | None, files) -> str:
    """End the execution with the files it produced; when the service refuses them (Invalid: e.g. their workspace
    was removed meanwhile), end it without them rather than leave it RUNNING. Returns the job's new status."""
    try:
        return executions.finish_execution(exe_id, status, error=error, files=files)
    except Invalid as exc:
        if not files:
            raise
        log.warning("execution %s: outputs not recorded: %s", exe_id, exc)
        return executions.finish_execution(exe_id, status, error=error)
