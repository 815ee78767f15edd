"""What a notification says: the JSON body of a webhook, and the same facts as an email.

Built when the rule's state changes (the lines are those of that evaluation) and stored with the delivery, so a
retry sends the same body."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from typing import Any

from core.times import format_datetime
from search.links import context_url, viewer_url

SAMPLE_LINES = 3
CONTEXT = 20  # lines each side behind a line's context_url, as on search hits (api/logs/hit_links.py)


def search_links(base: str, query: str) -> dict[str, str]:
    """The search page and the API search of a saved query string."""
    qs = query.lstrip("?")
    suffix = f"?{qs}" if qs else ""
    return {"search_url": f"{base}/search{suffix}", "api_url": f"{base}/v6/logs/{suffix}"}


def line_of_hit(base: str, hit: dict, exe_ids: dict[str, int]) -> dict[str, Any]:
    exe_id, order = exe_ids.get(hit.get("scale_job_exe") or ""), hit.get("scale_order_num")
    known = exe_id is not None and isinstance(order, int)
    return {
        "timestamp": hit.get("@timestamp"),
        "stream": hit.get("stream"),
        "message": hit.get("message"),
        "node": hit.get("scale_node"),
        "job_id": hit.get("job_id"),
        "exe_num": hit.get("exe_num"),
        "job_exe_id": exe_id,
        "job_type": hit.get("job_type"),
        "context_url": context_url(base, exe_id, order, CONTEXT) if known else None,  # type: ignore[arg-type]
        "viewer_url": viewer_url(base, exe_id, order) if known else None,  # type: ignore[arg-type]
    }


def webhook_body(
    base: str,
    rule: Any,
    search_name: str,
    search_query: str,
    count: int,
    started: datetime,
    ended: datetime,
    lines: list[dict[str, Any]],
) -> dict[str, Any]:
    """The body without its "event" (the store adds "firing" or "resolved")."""
    return {
        "alert": {
            "id": rule.id,
            "url": f"{base}/v6/alerts/{rule.id}/",
            "threshold": rule.threshold,
            "window_minutes": rule.window_minutes,
        },
        "search": {"id": rule.saved_search_id, "name": search_name, "query": search_query}
        | search_links(base, search_query),
        "count": count,
        "window": {"started": format_datetime(started), "ended": format_datetime(ended)},
        "lines": lines[:SAMPLE_LINES],
    }


def email_of(body: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    alert, search = body["alert"], body["search"]
    state = "FIRING" if body.get("event") == "firing" else "RESOLVED"
    msg = EmailMessage()
    msg["Subject"] = (
        f"[Scale alert {alert['id']}] {state}: {search['name']} "
        f"({body['count']} matches in {alert['window_minutes']} min, threshold {alert['threshold']})"
    )
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    text = [
        f'Alert {alert["id"]} on the saved search "{search["name"]}" is {state.lower()}: {body["count"]} lines '
        f"matched between {body['window']['started']} and {body['window']['ended']} (more than "
        f"{alert['threshold']} fires it).",
        "",
        f"Search: {search['search_url']}",
        f"Alert: {alert['url']}",
    ]
    if body["lines"]:
        text += ["", "First matching lines:"]
        for line in body["lines"]:
            text.append(f"  {line['timestamp']} [{line['stream']}] {line['message']}")
            if line.get("context_url"):
                text.append(f"    context: {line['context_url']}")
    msg.set_content("\n".join(text) + "\n")
    return msg


def recipients_of(email_to: str) -> list[str]:
    return [a.strip() for a in email_to.split(",") if a.strip()]
