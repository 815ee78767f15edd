"""Alerts on saved searches: /v6/alerts/, /v6/alerts/{id}/ and /v6/alerts/{id}/history/.

An alert belongs to who made it and is seen by them and staff only (it names where notifications go). It is
made on a saved search its maker can see. The checking and sending is alerts/checker.py's.
"""

from __future__ import annotations

import re
from typing import Any

import falcon

from alerts.allow import NotAllowed, check_webhook
from api.auth import Access
from api.bodies import BOOLEAN, INT32, Body, Field, json_body, parse_fields, text
from api.errors import bad_request
from api.logs.saved_search_routes import caller_of
from api.pagination import base_url, envelope, page_of
from api.routing import Operation, Response, json_response
from api.schemas import ERROR, ERROR_413, ERROR_415, component, paginated
from core.times import Clock
from jobs.alert_store import RULE_FIELDS, AlertStore, Event, Rule
from jobs.saved_search_store import SavedSearchStore
from settings import Settings

MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_INTERVAL_SECONDS = 24 * 3600
MAX_RECIPIENTS = 10
EMAIL = re.compile(r"^[^@\s,<>\"]+@[^@\s,<>\"]+\.[^@\s,<>\"]+$|^[^@\s,<>\"]+@localhost$")

ALERT_BODY = Body(
    "AlertIn",
    (
        Field("saved_search_id", INT32),
        Field("threshold", INT32),
        Field("window_minutes", INT32),
        Field("interval_seconds", INT32),
        Field("webhook_url", text(2000, min_length=0)),
        Field("email_to", text(1000, min_length=0)),
        Field("enabled", BOOLEAN),
    ),
)
ALERT = component(
    "Alert",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "saved_search_id": {"type": "integer"},
            "owner": {"type": "string"},
            "threshold": {"type": "integer", "description": "Fires on more than this many matches in the window"},
            "window_minutes": {"type": "integer"},
            "interval_seconds": {"type": "integer"},
            "webhook_url": {"type": ["string", "null"]},
            "email_to": {"type": ["string", "null"]},
            "enabled": {"type": "boolean"},
            "state": {"enum": ["ok", "firing"]},
            "last_count": {"type": ["integer", "null"]},
            "last_checked": {"type": ["string", "null"], "format": "date-time"},
            "next_check": {"type": "string", "format": "date-time"},
            "history_url": {"type": "string"},
            "created": {"type": "string", "format": "date-time"},
            "last_modified": {"type": "string", "format": "date-time"},
        },
    },
)
ALERT_EVENT = component(
    "AlertEvent",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "kind": {"enum": ["evaluated", "evaluation_failed", "delivered", "delivery_failed", "delivery_gave_up"]},
            "state": {"type": ["string", "null"]},
            "count": {"type": ["integer", "null"]},
            "event": {"type": ["string", "null"], "description": "firing or resolved: the notification's news"},
            "target": {"type": ["string", "null"]},
            "attempt": {"type": ["integer", "null"]},
            "detail": {"type": ["string", "null"]},
            "holder": {"type": "string", "description": "The process that did it"},
        },
    },
)
ALERT_LIST = {
    "type": "object",
    "properties": {"count": {"type": "integer"}, "results": {"type": "array", "items": ALERT}},
}
ERRORS = {400: json_response(ERROR), 401: json_response(ERROR), 403: json_response(ERROR)}
# Writes read a JSON body: too large 413, not JSON 415; an id nobody sees 404.
WRITE_ERRORS = ERRORS | {404: json_response(ERROR), 413: ERROR_413, 415: ERROR_415}


def alert_json(req: falcon.Request, rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "saved_search_id": rule.saved_search_id,
        "owner": rule.owner,
        "threshold": rule.threshold,
        "window_minutes": rule.window_minutes,
        "interval_seconds": rule.interval_seconds,
        "webhook_url": rule.webhook_url,
        "email_to": rule.email_to,
        "enabled": rule.enabled,
        "state": rule.state,
        "last_count": rule.last_count,
        "last_checked": rule.last_checked,
        "next_check": rule.next_check,
        "history_url": f"{base_url(req)}/v6/alerts/{rule.id}/history/",
        "created": rule.created,
        "last_modified": rule.last_modified,
    }


def event_json(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at,
        "kind": e.kind,
        "state": e.state,
        "count": e.count,
        "event": e.event,
        "target": e.target,
        "attempt": e.attempt,
        "detail": e.detail,
        "holder": e.holder,
    }


class AlertRules:
    """What both alert resources check: the fields of a rule, against the settings."""

    def __init__(self, alerts: AlertStore, saved: SavedSearchStore, settings: Settings, clock: Clock, max_body: int):
        self.alerts = alerts
        self.saved = saved
        self._settings = settings
        self.clock = clock
        self.max_body = max_body

    def read(self, req: falcon.Request) -> dict[str, Any]:
        """The fields given in the body (absent ones left out; "" clears a target), each checked."""
        raw = json_body(req, self.max_body)
        body = parse_fields(ALERT_BODY.fields, raw, self.clock())
        given = {k: v for k, v in body.items() if k in raw and v is not None}
        if "threshold" in given and given["threshold"] < 0:
            raise bad_request('Parameter must be at least 0: "threshold"')
        if "window_minutes" in given and not 1 <= given["window_minutes"] <= MAX_WINDOW_MINUTES:
            raise bad_request(f'Parameter "window_minutes" must be 1 to {MAX_WINDOW_MINUTES}')
        low = self._settings.alert_min_interval_seconds
        if "interval_seconds" in given and not low <= given["interval_seconds"] <= MAX_INTERVAL_SECONDS:
            raise bad_request(
                f'Parameter "interval_seconds" must be {low} to {MAX_INTERVAL_SECONDS} (ALERT_MIN_INTERVAL_SECONDS)'
            )
        if given.get("webhook_url"):
            try:
                check_webhook(given["webhook_url"], self._settings.alert_webhook_allow)
            except NotAllowed as exc:
                raise bad_request(f'Parameter "webhook_url" {exc}') from None
        if given.get("email_to"):
            if not self._settings.smtp_host:
                raise bad_request('Parameter "email_to": no SMTP server is configured (SMTP_HOST) to send email')
            addresses = [a.strip() for a in given["email_to"].split(",") if a.strip()]
            if len(addresses) > MAX_RECIPIENTS or not all(EMAIL.match(a) for a in addresses):
                raise bad_request(
                    f'Parameter "email_to" must be up to {MAX_RECIPIENTS} email addresses separated by commas'
                )
            given["email_to"] = ", ".join(addresses)
        for target in ("webhook_url", "email_to"):
            if given.get(target) == "":
                given[target] = None
        return given


class Alerts:
    access = Access.SIGNED_IN
    operations = {
        "GET": Operation(
            "Your alerts (staff: everyone's)", responses={200: json_response(ALERT_LIST)} | ERRORS, tags=("alerts",)
        ),
        "POST": Operation(
            "Alert on a saved search: more than threshold matches in the last window_minutes, checked every "
            "interval_seconds, sent to webhook_url (on ALERT_WEBHOOK_ALLOW) and/or email_to",
            body=ALERT_BODY.ref,
            responses={201: json_response(ALERT)} | WRITE_ERRORS,
            tags=("alerts",),
        ),
    }

    def __init__(self, rules: AlertRules):
        self._rules = rules

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        results = [alert_json(req, r) for r in self._rules.alerts.visible(caller_of(req))]
        resp.media = {"count": len(results), "results": results}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = caller_of(req)
        if caller.username is None:
            raise falcon.HTTPForbidden(description="Sign in to make an alert.")
        given = self._rules.read(req)
        for name in ("saved_search_id", "threshold", "window_minutes", "interval_seconds"):
            if name not in given:
                raise bad_request(f'Missing required parameter: "{name}"')
        if not given.get("webhook_url") and not given.get("email_to"):
            raise bad_request('An alert needs a target: parameter "webhook_url" or "email_to"')
        self._rules.saved.get(caller, given["saved_search_id"])  # 404 unless the maker sees it
        fields = {k: given.get(k) for k in RULE_FIELDS} | {"enabled": given.get("enabled", True)}
        rule = self._rules.alerts.create(caller.username, given["saved_search_id"], fields)
        resp.status = falcon.HTTP_201
        resp.location = f"{base_url(req)}/v6/alerts/{rule.id}/"
        resp.media = alert_json(req, rule)


class AlertDetails:
    access = Access.SIGNED_IN
    operations = {
        "GET": Operation(
            "One alert", responses={200: json_response(ALERT), 404: json_response(ERROR)} | ERRORS, tags=("alerts",)
        ),
        "PATCH": Operation(
            'Change an alert (its owner or staff); "" removes a target',
            body=ALERT_BODY.ref,
            responses={200: json_response(ALERT), 404: json_response(ERROR)} | WRITE_ERRORS,
            tags=("alerts",),
        ),
        "DELETE": Operation(
            "Delete an alert and its history",
            responses={204: Response("Deleted"), 404: json_response(ERROR)} | ERRORS,
            tags=("alerts",),
        ),
    }

    def __init__(self, rules: AlertRules):
        self._rules = rules

    def on_get(self, req: falcon.Request, resp: falcon.Response, alert_id: int) -> None:
        resp.media = alert_json(req, self._rules.alerts.get(caller_of(req), alert_id))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, alert_id: int) -> None:
        caller = caller_of(req)
        given = self._rules.read(req)
        if "saved_search_id" in given:
            raise bad_request('Parameter "saved_search_id" can\'t be changed: make a new alert')
        current = self._rules.alerts.get(caller, alert_id)
        webhook = given.get("webhook_url", current.webhook_url)
        email = given.get("email_to", current.email_to)
        if not webhook and not email:
            raise bad_request('An alert needs a target: parameter "webhook_url" or "email_to"')
        resp.media = alert_json(req, self._rules.alerts.update(caller, alert_id, given))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, alert_id: int) -> None:
        self._rules.alerts.delete(caller_of(req), alert_id)
        resp.status = falcon.HTTP_204


class AlertHistory:
    access = Access.SIGNED_IN
    operations = {
        "GET": Operation(
            "Every evaluation and delivery attempt of an alert, newest first",
            responses={200: json_response(paginated(ALERT_EVENT)), 404: json_response(ERROR)} | ERRORS,
            tags=("alerts",),
        )
    }

    def __init__(self, rules: AlertRules):
        self._rules = rules

    def on_get(self, req: falcon.Request, resp: falcon.Response, alert_id: int) -> None:
        caller = caller_of(req)
        page = page_of(req)
        count, events = self._rules.alerts.history(caller, alert_id, page.offset, page.size)
        resp.media = envelope(req, page, count, [event_json(e) for e in events])
