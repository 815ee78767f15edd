"""Data for the reliability tests: job types, jobs in every state, executions with log lines."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.factories import manifest


@dataclass
class Seeded:
    job_type_ids: list[int] = field(default_factory=list)
    job_type_names: list[str] = field(default_factory=list)
    job_ids: list[int] = field(default_factory=list)
    running: list = field(default_factory=list)  # ClaimedExecution of RUNNING jobs
    finished_exe_ids: list[int] = field(default_factory=list)

    @property
    def exe_ids(self) -> list[int]:
        return [c.id for c in self.running] + self.finished_exe_ids


def seed_jobs(stores, types: int = 2, jobs: int = 12, running: int = 3, finished: int = 3) -> Seeded:
    """`jobs` QUEUED jobs over `types` job types; of them `running` started and `finished` failed/completed."""
    out = Seeded()
    for _ in range(types):
        job_type, _ = stores.job_types.save_job_type("rel/image:1", manifest())
        out.job_type_ids.append(job_type.id)
        out.job_type_names.append(job_type.name)
    for n in range(jobs):
        out.job_ids.append(stores.jobs.create_job(out.job_type_ids[n % types], {"files": {}, "json": {}}))
    for job_id in out.job_ids[:running]:
        out.running.append(stores.executions.start_execution(job_id, "rel-node-1"))
    for i, job_id in enumerate(out.job_ids[running : running + finished]):
        claimed = stores.executions.start_execution(job_id, "rel-node-2")
        stores.executions.finish_execution(claimed.id, "COMPLETED" if i % 2 else "FAILED")
        out.finished_exe_ids.append(claimed.id)
    return out


def lines(count: int, start: int = 1, prefix: str = "line", stream: str = "stdout") -> list[dict]:
    return [{"message": f"{prefix} {i}", "stream": stream} for i in range(start, start + count)]
