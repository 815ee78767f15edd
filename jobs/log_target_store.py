"""What the log pipeline needs of executions: who they are (LogTarget), their job's facts (status, error
category) and their log order numbers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import select, update

from jobs.db import Database
from jobs.errors import Invalid, NotFound
from jobs.models import Error, Job, JobExecution, JobType, Node
from jobs.records import LogTarget
from jobs.statuses import ExecutionStatus

# Cluster ids per `IN (...)` query of the job facts: under SQLite's 32,766 bound parameters and small enough for
# PostgreSQL to plan each chunk as index lookups on the unique cluster_id index.
FACTS_CHUNK = 5_000


class LogTargetStore:
    def __init__(self, db: Database):
        self._sessions = db.sessions

    def execution_for_logs(self, exe_id: int) -> LogTarget | None:
        """The execution with this id as the log pipeline needs it, or None."""
        with self._sessions() as s:
            row = s.execute(_log_targets().where(JobExecution.id == exe_id)).first()
        return _log_target(row) if row else None

    def log_targets_of_job(self, job_id: int) -> list[LogTarget] | None:
        """Every execution of the job, by exe_num; None if the job does not exist."""
        with self._sessions() as s:
            if s.get(Job, job_id) is None:
                return None
            rows = s.execute(_log_targets().where(JobExecution.job_id == job_id).order_by(JobExecution.exe_num)).all()
        return [_log_target(r) for r in rows]

    def execution_ids(self, cluster_ids: list[str]) -> dict[str, int]:
        """Execution id by cluster id, for those that exist (one query on the unique cluster_id index)."""
        if not cluster_ids:
            return {}
        with self._sessions() as s:
            rows = s.execute(
                select(JobExecution.cluster_id, JobExecution.id).where(JobExecution.cluster_id.in_(set(cluster_ids)))
            ).all()
        return {str(cluster_id): int(exe_id) for cluster_id, exe_id in rows}

    def runs_of_clusters(self, cluster_ids: list[str]) -> dict[str, dict]:
        """For group=execution: each execution's id, job id, exe_num, job status and job type, by cluster id."""
        if not cluster_ids:
            return {}
        query = (
            select(
                JobExecution.cluster_id,
                JobExecution.id,
                JobExecution.job_id,
                JobExecution.exe_num,
                Job.status,
                JobType.name,
                JobType.version,
                Error.category,
            )
            .join(Job, Job.id == JobExecution.job_id)
            .join(JobType, JobType.id == JobExecution.job_type_id)
            .outerjoin(Error, Error.id == Job.error_id)
            .where(JobExecution.cluster_id.in_(set(cluster_ids)))
        )
        with self._sessions() as s:
            rows = s.execute(query).all()
        return {
            str(r[0]): {
                "job_exe_id": r[1],
                "job_id": r[2],
                "exe_num": r[3],
                "job_status": r[4],
                "job_type": {"name": r[5], "version": r[6]},
                "error_category": r[7],
            }
            for r in rows
        }

    def job_facts(self, cluster_ids: Iterable[str]) -> dict[str, tuple[int, str, str | None]]:
        """(execution id, its job's status, the category of its job's error or None) by cluster id, for those
        that exist: one query per FACTS_CHUNK ids, in one session."""
        out: dict[str, tuple[int, str, str | None]] = {}
        with self._sessions() as s:
            for chunk in _chunks(sorted(set(cluster_ids))):
                rows = s.execute(_facts().where(JobExecution.cluster_id.in_(chunk))).all()
                out.update((str(r[0]), (int(r[1]), str(r[2]), r[3])) for r in rows)
        return out

    def clusters_with_facts(
        self, cluster_ids: Iterable[str], statuses: Sequence[str] | None, categories: Sequence[str] | None
    ) -> list[str]:
        """Those of `cluster_ids` whose job has one of `statuses` and whose job's error has one of `categories`
        (None: any). The database filters each chunk, so only the matching ids come back."""
        query = _facts()
        if statuses:
            query = query.where(Job.status.in_(list(statuses)))
        if categories:
            query = query.where(Error.category.in_(list(categories)))
        found: list[str] = []
        with self._sessions() as s:
            for chunk in _chunks(sorted(set(cluster_ids))):
                found += [str(r[0]) for r in s.execute(query.where(JobExecution.cluster_id.in_(chunk))).all()]
        return found

    def reserve_log_sequence(self, exe_id: int, count: int) -> int:
        """Reserve `count` consecutive log order numbers of the execution (from 1); returns the first one.

        One UPDATE ... RETURNING, so concurrent callers (several gunicorn workers) never overlap.
        """
        if count < 1:
            raise Invalid("count must be at least 1")
        with self._sessions.begin() as s:
            last = s.scalar(
                update(JobExecution)
                .where(JobExecution.id == exe_id)
                .values(log_seq=JobExecution.log_seq + count)
                .returning(JobExecution.log_seq)
                .execution_options(synchronize_session=False)
            )
        if last is None:
            raise NotFound(f"job execution {exe_id}")
        return last - count + 1


def _facts():
    return (
        select(JobExecution.cluster_id, JobExecution.id, Job.status, Error.category)
        .join(Job, Job.id == JobExecution.job_id)
        .outerjoin(Error, Error.id == Job.error_id)
    )


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), FACTS_CHUNK):
        yield ids[start : start + FACTS_CHUNK]


def _log_targets():
    return (
        select(
            JobExecution.id,
            JobExecution.job_id,
            JobExecution.exe_num,
            JobExecution.cluster_id,
            JobExecution.status,
            Node.hostname,
            JobType.name,
            JobType.version,
            JobExecution.started,
            JobExecution.ended,
            JobExecution.created,
            JobExecution.last_modified,
        )
        .join(JobType, JobType.id == JobExecution.job_type_id)
        .outerjoin(Node, Node.id == JobExecution.node_id)
    )


def _log_target(row) -> LogTarget:
    return LogTarget(
        id=row[0],
        job_id=row[1],
        exe_num=row[2],
        cluster_id=row[3],
        status=row[4],
        node=row[5],
        job_type_name=row[6],
        job_type_version=row[7],
        started=row[8],
        ended=row[9],
        is_finished=row[4] != ExecutionStatus.RUNNING,
        registered=row[10],
        finished_at=row[11] if row[4] != ExecutionStatus.RUNNING else None,
    )
