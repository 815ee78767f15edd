"""Every store of the jobs package on one database, for the programs that wire them (the API's services,
the worker, the ingest command line)."""

from __future__ import annotations

from dataclasses import dataclass

from core.times import Clock
from jobs.alert_store import AlertStore
from jobs.db import Database
from jobs.execution_store import ExecutionStore
from jobs.file_store import FileStore
from jobs.job_store import JobStore
from jobs.job_type_store import JobTypeStore
from jobs.log_target_store import LogTargetStore
from jobs.saved_search_store import SavedSearchStore
from jobs.scaleui.error_store import ErrorStore
from jobs.scaleui.job_type_status_store import JobTypeStatusStore
from jobs.scaleui.metrics_store import MetricsStore
from jobs.scaleui.node_store import NodeStore
from jobs.scaleui.timeline_store import TimelineStore
from jobs.scaleui.workspace_store import WorkspaceStore
from jobs.status_store import StatusStore
from jobs.task_claim_store import TaskClaimStore
from jobs.user_store import UserStore


@dataclass(frozen=True)
class Stores:
    db: Database
    job_types: JobTypeStore
    jobs: JobStore
    executions: ExecutionStore
    log_targets: LogTargetStore
    files: FileStore
    users: UserStore
    status: StatusStore
    job_type_status: JobTypeStatusStore
    nodes: NodeStore
    workspaces: WorkspaceStore
    metrics: MetricsStore
    errors: ErrorStore
    timeline: TimelineStore
    saved_searches: SavedSearchStore
    alerts: AlertStore
    task_claims: TaskClaimStore

    @classmethod
    def open(cls, database_url: str, clock: Clock) -> Stores:
        db = Database.connect(database_url)
        return cls(
            db,
            JobTypeStore(db, clock),
            JobStore(db, clock),
            ExecutionStore(db, clock),
            LogTargetStore(db),
            FileStore(db, clock),
            UserStore(db, clock),
            StatusStore(db),
            JobTypeStatusStore(db),
            NodeStore(db),
            WorkspaceStore(db, clock),
            MetricsStore(db),
            ErrorStore(db),
            TimelineStore(db),
            SavedSearchStore(db, clock),
            AlertStore(db, clock),
            TaskClaimStore(db, clock),
        )

    def close(self) -> None:
        self.db.dispose()
