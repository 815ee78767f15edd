"""Links to an execution's logs: our API and, when configured, Kibana's Discover."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from core.times import format_ns_short, ns_of

# The data view mappings/kibana-data-view.ndjson imports (title "scalelogs-*").
KIBANA_DATA_VIEW = "scalelogs"


def log_url(base_url: str, job_exe_id: int, stream: str = "combined") -> str:
    """`base_url` is scheme://host as the client sees it (api.pagination.base_url(req))."""
    return f"{base_url.rstrip('/')}/v6/job-executions/{job_exe_id}/logs/{stream}/"


def viewer_url(base_url: str, job_exe_id: int, around: int | None = None) -> str:
    """The log viewer's page; `around`: opened at the line with this scale_order_num."""
    url = f"{base_url.rstrip('/')}/logs/{job_exe_id}"
    return url if around is None else f"{url}?around={around}"


def context_url(base_url: str, job_exe_id: int, around: int, context: int = 20) -> str:
    """The lines around one line of an execution's combined log (api.logs.context)."""
    return f"{log_url(base_url, job_exe_id)}?around={around}&context={context}"


def kibana_discover_url(
    kibana_url: str | None,
    cluster_id: str | None,
    started: datetime | None = None,
    ended: datetime | None = None,
    data_view: str = KIBANA_DATA_VIEW,
) -> str | None:
    """Discover on the `data_view` (id) filtered to one execution's lines; None without Kibana or cluster id.

    The time range spans the execution (a minute either side; up to now while it runs) or, before it
    started, the last 30 days.
    """
    if not kibana_url or not cluster_id:
        return None
    if started is not None:
        begin = _rison(format_ns_short(ns_of(started - timedelta(minutes=1))))
        end = _rison(format_ns_short(ns_of(ended + timedelta(minutes=1)))) if ended is not None else "now"
    else:
        begin, end = "now-30d", "now"
    kql = 'scale_job_exe:"' + cluster_id.replace("\\", "\\\\").replace('"', '\\"') + '"'
    g = f"(time:(from:{begin},to:{end}))"
    a = (
        f"(columns:!(stream,message),dataSource:(dataViewId:{_rison(data_view)},type:dataView),"
        f"query:(language:kuery,query:{_rison(kql)}),sort:!(!('@timestamp',asc)))"
    )
    return f"{kibana_url.rstrip('/')}/app/discover#/?_g={quote(g, safe=_SAFE)}&_a={quote(a, safe=_SAFE)}"


_SAFE = "()!:,'*-._~"


def _rison(text: str) -> str:
    """A Rison string literal: single quotes, with ! and ' escaped by !."""
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"
