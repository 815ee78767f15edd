"""What search hits carry from the database: their job's facts, the lines around each hit (context_url) and the
viewer opened at it (viewer_url)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import falcon

from api.pagination import base_url
from jobs.log_target_store import LogTargetStore
from search.links import context_url, viewer_url

HIT_CONTEXT = 20  # lines each side behind a hit's context_url
FACTS_BATCH = 2_000  # hits of an export per job facts query (the export's chunk of lines)


def add_hit_links(req: falcon.Request, log_targets: LogTargetStore, hits: list[dict]) -> None:
    """Set the job's facts (job_status, error_category) and the links (context_url, viewer_url) on each hit; None
    where the execution is not in the database (a legacy line of an unknown run), and no links where the line has
    no order number. One SQL query for the page, never one per hit."""
    facts = add_job_facts(log_targets, hits)
    base = base_url(req)
    for hit in hits:
        known, order = facts.get(hit.get("scale_job_exe") or ""), hit.get("scale_order_num")
        if known is None or not isinstance(order, int):
            hit["context_url"] = hit["viewer_url"] = None
            continue
        hit["context_url"] = context_url(base, known[0], order, HIT_CONTEXT)
        hit["viewer_url"] = viewer_url(base, known[0], order)


def add_job_facts(log_targets: LogTargetStore, hits: list[dict]) -> dict[str, tuple[int, str, str | None]]:
    """Set job_status and error_category on each hit (None for an execution the database lacks) with one SQL
    query; returns the facts by cluster id (execution id, status, error category)."""
    facts = log_targets.job_facts(h["scale_job_exe"] for h in hits if h.get("scale_job_exe"))
    for hit in hits:
        known = facts.get(hit.get("scale_job_exe") or "")
        hit["job_status"], hit["error_category"] = (known[1], known[2]) if known else (None, None)
    return facts


def with_job_facts(log_targets: LogTargetStore, hits: Iterable[dict], batch: int = FACTS_BATCH) -> Iterator[dict]:
    """The hits of a stream (an export) with their job's facts, one SQL query per `batch` hits (memory stays flat)."""
    chunk: list[dict] = []
    for hit in hits:
        chunk.append(hit)
        if len(chunk) == batch:
            add_job_facts(log_targets, chunk)
            yield from chunk
            chunk = []
    add_job_facts(log_targets, chunk)
    yield from chunk
