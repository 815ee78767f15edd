"""Every route of the service, wired in one place: which resource serves which URI template, and what each
resource is given (only the stores and services it uses)."""

from __future__ import annotations

import falcon

# First, for the OpenAPI document: it lists schemas in the order they are declared (jobs, logs, then the rest).
from api.jobs import job_schemas  # noqa: F401
from api.logs import log_params  # noqa: F401

# isort: split
from api.account_routes import Login, Logout, Profile
from api.alerts.alert_routes import AlertDetails, AlertHistory, AlertRules, Alerts
from api.health import Liveness, Readiness
from api.jobs.executor_routes import ExecutionNode, ExecutorClaim, ExecutorLeases, ExecutorRunning
from api.jobs.file_routes import Files
from api.jobs.job_execution_routes import ExecutionById, ExecutionByNum, ExecutionLinks, JobExecutions
from api.jobs.job_routes import JobDetails, JobInputFiles, Jobs, JobsCancel, JobsRequeue
from api.jobs.job_type_routes import JobTypes
from api.logs.export import LogExport
from api.logs.facets import LogFacets
from api.logs.follow import SearchFollow
from api.logs.histogram import LogHistogram
from api.logs.ingest_routes import ExecutionLogIngest
from api.logs.log_routes import ExecutionLogs
from api.logs.log_search_routes import JobLogs, LogSearchResource
from api.logs.long_reads import LongReads
from api.logs.saved_search_routes import SavedSearchDetails, SavedSearches
from api.metrics_route import MetricsResource
from api.openapi import OpenApiResource
from api.routing import ID, RouteTable
from api.scaleui.catalogue_routes import ErrorDetails, Errors, NothingHere, TimelineJobTypes
from api.scaleui.job_type_edit_routes import (
    JobTypeDetailsEditable,
    JobTypeNames,
    JobTypeValidation,
    JobTypeVersions,
)
from api.scaleui.job_type_status_routes import JobLoad, JobTypesRunning, JobTypesStatus, QueueStatus
from api.scaleui.metrics_routes import MetricsPlotData, MetricsTypeDetails, MetricsTypes
from api.scaleui.node_routes import NodeDetails, Nodes
from api.scaleui.workspace_routes import WorkspaceDetails, Workspaces, WorkspaceValidation
from api.services import Services
from api.system_routes import Scheduler, Status, Version
from api.viewer_routes import VIEWER, SearchPage, ViewerAsset, ViewerPage
from core import metrics
from core.times import Clock
from settings import Settings

# exe_num is a 32-bit column (PostgreSQL): a larger number is an unknown execution, 404 before the resource runs.
EXE_NUM = "int(min=1, max=2147483647)"


def add_routes(app: falcon.App, services: Services, settings: Settings, clock: Clock) -> RouteTable:
    routes = RouteTable(app)
    stores, logs = services.stores, services.logs
    # JSON write bodies; the log upload route reads settings.max_body_bytes itself.
    max_body = min(settings.max_body_bytes, settings.max_json_body_bytes)
    routes.add("/healthz", Liveness())
    routes.add("/readyz", readiness(services, settings.read_token is not None))
    routes.add("/metrics", MetricsResource(stores.jobs.count_by_status))
    routes.add("/v6/openapi.json", OpenApiResource(routes))
    # Every page of Scale's UI calls these three.
    routes.add("/v6/version/", Version())
    routes.add("/v6/status/", Status(stores.status, logs.search.cluster_info if logs else None, clock))
    routes.add("/v6/scheduler/", Scheduler())

    routes.add("/v6/job-types/", JobTypes(stores.job_types, clock, max_body))
    routes.add("/v6/job-types/{name}/{version}/", JobTypeDetailsEditable(stores.job_types, clock, max_body))
    # Scale's UI: the dashboard, Running Jobs and Queued Jobs pages.
    routes.add("/v6/job-types/status/", JobTypesStatus(stores.job_type_status, clock))
    routes.add("/v6/job-types/running/", JobTypesRunning(stores.job_type_status))
    routes.add("/v6/queue/status/", QueueStatus(stores.job_type_status))
    routes.add("/v6/load/", JobLoad(stores.job_type_status, clock))
    # Scale's UI: job types edited (the pause button, the wizard) and browsed by name.
    routes.add("/v6/job-types/validation/", JobTypeValidation(stores.job_types, clock, max_body))
    routes.add("/v6/job-type-names/", JobTypeNames(stores.job_types, clock))
    routes.add("/v6/job-types/{name}/", JobTypeVersions(stores.job_types, clock))
    routes.add("/v6/jobs/", Jobs(stores.jobs, clock, max_body, settings.read_only_list_rows))
    routes.add("/v6/jobs/cancel/", JobsCancel(stores.jobs, clock, max_body))
    routes.add("/v6/jobs/requeue/", JobsRequeue(stores.jobs, clock, max_body))
    routes.add(f"/v6/jobs/{{job_id:{ID}}}/", JobDetails(stores.jobs))
    routes.add(f"/v6/jobs/{{job_id:{ID}}}/input_files/", JobInputFiles(stores.jobs, clock))
    links = ExecutionLinks(settings.kibana_url)
    routes.add(f"/v6/jobs/{{job_id:{ID}}}/executions/", JobExecutions(stores.executions, clock, links, max_body))
    routes.add(f"/v6/jobs/{{job_id:{ID}}}/executions/{{exe_num:{EXE_NUM}}}/", ExecutionByNum(stores.executions, links))
    routes.add(f"/v6/job-executions/{{exe_id:{ID}}}/", ExecutionById(stores.executions, clock, links, max_body))
    # Executors (the local worker, the Kubernetes engine) through the API with an executor token (issue 23).
    routes.add(f"/v6/job-executions/{{exe_id:{ID}}}/node/", ExecutionNode(stores.executions, clock, max_body))
    routes.add("/v6/executors/{node}/claim/", ExecutorClaim(stores.executions, clock, max_body))
    routes.add("/v6/executors/{node}/leases/", ExecutorLeases(stores.executions, clock, max_body))
    routes.add("/v6/executors/{node}/running/", ExecutorRunning(stores.executions))
    routes.add("/v6/files/", Files(stores.files, clock, settings.read_only_list_rows))
    # Scale's UI: System -> Nodes and Workspaces.
    routes.add("/v6/nodes/", Nodes(stores.nodes, clock))
    routes.add(f"/v6/nodes/{{node_id:{ID}}}/", NodeDetails(stores.nodes))
    routes.add("/v6/workspaces/", Workspaces(stores.workspaces, clock, max_body))
    routes.add("/v6/workspaces/validation/", WorkspaceValidation(stores.workspaces, clock, max_body))
    routes.add(f"/v6/workspaces/{{workspace_id:{ID}}}/", WorkspaceDetails(stores.workspaces, clock, max_body))
    # Scale's UI: Job Type History, Data -> Metrics and Timeline; what they load that this service lacks is empty.
    routes.add("/v6/metrics/", MetricsTypes())
    routes.add("/v6/metrics/{name}/", MetricsTypeDetails(stores.metrics))
    routes.add("/v6/metrics/{name}/plot-data/", MetricsPlotData(stores.metrics, clock))
    routes.add("/v6/errors/", Errors(stores.errors, clock))
    routes.add(f"/v6/errors/{{error_id:{ID}}}/", ErrorDetails(stores.errors))
    routes.add("/v6/timeline/job-types/", TimelineJobTypes(stores.timeline, clock))
    routes.add("/v6/recipe-types/", NothingHere("Recipe types"))
    routes.add("/v6/timeline/recipe-types/", NothingHere("Timeline of recipe types"))
    routes.add("/v6/accounts/profile/", Profile())
    routes.add("/v6/accounts/login/", Login(stores.users, settings, clock))
    routes.add("/v6/accounts/logout/", Logout(stores.users))
    # Saved searches and alerts on them (issue 22); the alert checker itself is started by api/startup.py.
    routes.add("/v6/saved-searches/", SavedSearches(stores.saved_searches, stores.log_targets, clock, max_body))
    routes.add(
        f"/v6/saved-searches/{{search_id:{ID}}}/",
        SavedSearchDetails(stores.saved_searches, stores.log_targets, clock, max_body),
    )
    rules = AlertRules(stores.alerts, stores.saved_searches, settings, clock, max_body)
    routes.add("/v6/alerts/", Alerts(rules))
    routes.add(f"/v6/alerts/{{alert_id:{ID}}}/", AlertDetails(rules))
    routes.add(f"/v6/alerts/{{alert_id:{ID}}}/history/", AlertHistory(rules))

    if logs is not None:
        # One set of caps for every route that holds a thread for long (follows, whole-log streams, exports).
        long_reads = LongReads(settings.long_reads_per_client, settings.long_reads_per_worker)
        routes.add(
            f"/v6/job-executions/{{exe_id:{ID}}}/logs/{{stream}}/",
            ExecutionLogs(
                stores.log_targets,
                logs.search,
                settings.follow_max_seconds,
                clock,
                settings.log_retention_days,
                long_reads,
                settings.trust_forwarded_for,
            ),
        )
        follow = SearchFollow(
            stores.log_targets, logs.search, settings.follow_max_seconds, long_reads, settings.trust_forwarded_for
        )
        routes.add("/v6/logs/", LogSearchResource(stores.log_targets, logs.search, clock, follow))
        routes.add(
            "/v6/logs/export/",
            LogExport(stores.log_targets, logs.search, clock, long_reads, settings.trust_forwarded_for),
        )
        routes.add("/v6/logs/histogram/", LogHistogram(stores.log_targets, logs.search, clock))
        routes.add("/v6/logs/facets/", LogFacets(stores.log_targets, logs.search, clock))
        routes.add(f"/v6/jobs/{{job_id:{ID}}}/logs/", JobLogs(stores.log_targets, logs.search, clock))
        routes.add(f"/logs/{{job_exe_id:{ID}}}", ViewerPage(stores.log_targets))
        routes.add("/viewer/{name}", ViewerAsset())
        routes.add("/viewer/vendor/{name}", ViewerAsset(VIEWER / "vendor"))  # toolkits, each beside its licence
        routes.add("/search", SearchPage())
        routes.add(
            f"/v6/job-executions/{{exe_id:{ID}}}/logs/",
            ExecutionLogIngest(stores.log_targets, logs.writer, settings, clock),
        )
    return routes


def readiness(services: Services, details_need_credential: bool) -> Readiness:
    logs = services.logs
    if logs is None:
        return Readiness(services.stores.db.ping, None, details_need_credential=details_need_credential)
    # Under gunicorn the spool backlog is every worker's (from the metrics they share); else this process's.
    backlog = metrics.spool_backlog_of_all_processes if metrics.multiprocess_dir() else logs.writer.backlog
    return Readiness(services.stores.db.ping, logs.search.cluster_info, logs.writer, backlog, details_need_credential)
