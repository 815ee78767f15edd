"""`scale saved-searches`, `scale alerts` and `scale alert-history ID`: the saved searches and alerts the token
may see, and what one alert did (read-only; make and change them with the API, README "Alerts")."""

from __future__ import annotations

from typing import Any

import click

from scalecli import render


def _api() -> Any:
    return click.get_current_context().find_root().obj.api  # scalecli.commands.State


_json = click.option("--json", "as_json", is_flag=True, help="Print the service's JSON as it is")


@click.command(name="saved-searches")
@_json
def saved_searches(as_json: bool) -> None:
    """Your saved searches and the shared ones."""
    answer = _api().get_json("/v6/saved-searches/")
    if as_json:
        render.print_json(answer)
        return
    rows = [
        [
            str(s["id"]),
            render.escape(s["name"]),
            render.escape(s["owner"]),
            "shared" if s["shared"] else "private",
            render.escape(s["query"]),
        ]
        for s in answer["results"]
    ]
    out = render.console()
    out.print(render.table(["ID", "NAME", "OWNER", "SHARING", "QUERY"], rows))
    out.print(f"{answer['count']} saved searches", style="dim")


@click.command(name="alerts")
@_json
def alerts(as_json: bool) -> None:
    """Your alerts (staff: everyone's) and whether each is firing."""
    answer = _api().get_json("/v6/alerts/")
    if as_json:
        render.print_json(answer)
        return
    rows = [
        [
            str(a["id"]),
            str(a["saved_search_id"]),
            f"> {a['threshold']} in {a['window_minutes']} min",
            f"{a['interval_seconds']} s",
            ", ".join(t for t, v in (("webhook", a["webhook_url"]), ("email", a["email_to"])) if v),
            ("FIRING" if a["state"] == "firing" else "ok") if a["enabled"] else "disabled",
            "" if a["last_count"] is None else str(a["last_count"]),
        ]
        for a in answer["results"]
    ]
    out = render.console()
    out.print(render.table(["ID", "SEARCH", "FIRES ON", "EVERY", "TARGETS", "STATE", "LAST COUNT"], rows))
    out.print(f"{answer['count']} alerts", style="dim")


@click.command(name="alert-history")
@click.argument("alert_id", type=int)
@click.option("--page-size", type=click.IntRange(1, 1000), default=50, show_default=True)
@_json
def alert_history(alert_id: int, page_size: int, as_json: bool) -> None:
    """An alert's evaluations and delivery attempts, newest first."""
    answer = _api().get_json(f"/v6/alerts/{alert_id}/history/", params={"page_size": page_size})
    if as_json:
        render.print_json(answer)
        return
    rows = [
        [
            e["at"],
            e["kind"],
            "" if e["count"] is None else str(e["count"]),
            e["state"] or "",
            " ".join(x for x in (e["event"], e["target"], f"#{e['attempt']}" if e["attempt"] else None) if x),
            render.escape(e["detail"] or ""),
        ]
        for e in answer["results"]
    ]
    out = render.console()
    out.print(render.table(["AT", "WHAT", "COUNT", "STATE", "NOTIFICATION", "DETAIL"], rows))
    out.print(f"{len(rows)} of {answer['count']} events", style="dim")


COMMANDS = (saved_searches, alerts, alert_history)
