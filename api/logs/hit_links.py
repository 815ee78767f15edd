"""Links on search hits: the lines around each hit (context_url) and the viewer opened at it (viewer_url)."""

from __future__ import annotations

import falcon

from api.pagination import base_url
from jobs.log_target_store import LogTargetStore
from search.links import context_url, viewer_url

HIT_CONTEXT = 20  # lines each side behind a hit's context_url


def add_hit_links(req: falcon.Request, log_targets: LogTargetStore, hits: list[dict]) -> None:
    """Set context_url and viewer_url on each hit; None where the execution is not in the database (a legacy
    line of an unknown run) or the line has no order number. One SQL query for the page."""
    ids = log_targets.execution_ids([h["scale_job_exe"] for h in hits if h.get("scale_job_exe")])
    base = base_url(req)
    for hit in hits:
        exe_id, order = ids.get(hit.get("scale_job_exe") or ""), hit.get("scale_order_num")
        if exe_id is None or not isinstance(order, int):
            hit["context_url"] = hit["viewer_url"] = None
            continue
        hit["context_url"] = context_url(base, exe_id, order, HIT_CONTEXT)
        hit["viewer_url"] = viewer_url(base, exe_id, order)
