"""Saved log searches: /v6/saved-searches/ and /v6/saved-searches/{id}/.

Any signed-in user (a READ_TOKEN or read-only login included) lists, reads and saves searches of their own;
only the owner or staff change or delete one; a private search is seen by its owner only (jobs/saved_search_store).
"""

from __future__ import annotations

from typing import Any

import falcon

from api.auth import Access, Identity
from api.bodies import BOOLEAN, Body, Field, json_body, parse_fields, text
from api.errors import bad_request
from api.logs.filters import MAX_SAVED_QUERY, saved_query_filters
from api.pagination import base_url
from api.routing import Operation, Response, json_response
from api.schemas import ERROR, ERROR_413, ERROR_415, component
from core.times import Clock
from jobs.log_target_store import LogTargetStore
from jobs.saved_search_store import Caller, Saved, SavedSearchStore

EXECUTOR_REFUSED = "An executor token can't keep saved searches or alerts."

SAVED_SEARCH_BODY = Body(
    "SavedSearchIn",
    (
        Field("name", text(200)),
        Field("query", text(MAX_SAVED_QUERY, min_length=0)),
        Field("shared", BOOLEAN),
    ),
)
SAVED_SEARCH = component(
    "SavedSearch",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "owner": {"type": "string"},
            "query": {"type": "string", "description": "The query string of /v6/logs/ (and of the search page)"},
            "shared": {"type": "boolean"},
            "can_change": {"type": "boolean"},
            "search_url": {"type": "string"},
            "created": {"type": "string", "format": "date-time"},
            "last_modified": {"type": "string", "format": "date-time"},
        },
    },
)
SAVED_LIST = {
    "type": "object",
    "properties": {"count": {"type": "integer"}, "results": {"type": "array", "items": SAVED_SEARCH}},
}
ERRORS = {400: json_response(ERROR), 401: json_response(ERROR), 403: json_response(ERROR)}
# Writes read a JSON body: too large 413, not JSON 415; an id nobody sees 404.
WRITE_ERRORS = ERRORS | {404: json_response(ERROR), 413: ERROR_413, 415: ERROR_415}


def caller_of(req: falcon.Request) -> Caller:
    """The store's view of who asks; an executor token is refused (it acts for a node, not a person)."""
    identity: Identity | None = req.context.identity
    if identity is None:
        return Caller(None)
    if identity.executor:
        raise falcon.HTTPForbidden(description=EXECUTOR_REFUSED)
    return Caller(identity.username, identity.is_staff)


def saved_json(req: falcon.Request, saved: Saved, caller: Caller) -> dict[str, Any]:
    query = saved.query.lstrip("?")
    return {
        "id": saved.id,
        "name": saved.name,
        "owner": saved.owner,
        "query": query,
        "shared": saved.shared,
        "can_change": caller.is_staff or caller.username == saved.owner,
        "search_url": f"{base_url(req)}/search" + (f"?{query}" if query else ""),
        "created": saved.created,
        "last_modified": saved.last_modified,
    }


class SavedSearches:
    access = Access.SIGNED_IN
    operations = {
        "GET": Operation(
            "Saved searches you may see: your own and the shared ones",
            responses={200: json_response(SAVED_LIST)} | ERRORS,
            tags=("saved searches",),
        ),
        "POST": Operation(
            "Save a search (any signed-in user, read-only ones included)",
            body=SAVED_SEARCH_BODY.ref,
            responses={201: json_response(SAVED_SEARCH)} | WRITE_ERRORS,
            tags=("saved searches",),
        ),
    }

    def __init__(self, saved: SavedSearchStore, log_targets: LogTargetStore, clock: Clock, max_body: int):
        self._saved = saved
        self._log_targets = log_targets
        self._clock = clock
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = caller_of(req)
        results = [saved_json(req, s, caller) for s in self._saved.visible(caller)]
        resp.media = {"count": len(results), "results": results}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        caller = caller_of(req)
        if caller.username is None:
            raise falcon.HTTPForbidden(description="Sign in to save a search.")
        body = SAVED_SEARCH_BODY.read(req, self._max_body, self._clock())
        for name in ("name", "query"):
            if body[name] is None:
                raise bad_request(f'Missing required parameter: "{name}"')
        if not body["name"].strip():
            raise bad_request('Parameter "name" must not be blank')
        saved_query_filters(body["query"], self._clock, self._log_targets)
        saved = self._saved.create(
            caller.username, body["name"].strip(), body["query"].lstrip("?"), bool(body["shared"])
        )
        resp.status = falcon.HTTP_201
        resp.location = f"{base_url(req)}/v6/saved-searches/{saved.id}/"
        resp.media = saved_json(req, saved, caller)


class SavedSearchDetails:
    access = Access.SIGNED_IN
    operations = {
        "GET": Operation(
            "One saved search",
            responses={200: json_response(SAVED_SEARCH), 404: json_response(ERROR)} | ERRORS,
            tags=("saved searches",),
        ),
        "PATCH": Operation(
            "Change a saved search's name, query or sharing (its owner or staff)",
            body=SAVED_SEARCH_BODY.ref,
            responses={200: json_response(SAVED_SEARCH), 404: json_response(ERROR)} | WRITE_ERRORS,
            tags=("saved searches",),
        ),
        "DELETE": Operation(
            "Delete a saved search and its alerts (its owner or staff)",
            responses={204: Response("Deleted"), 404: json_response(ERROR)} | ERRORS,
            tags=("saved searches",),
        ),
    }

    def __init__(self, saved: SavedSearchStore, log_targets: LogTargetStore, clock: Clock, max_body: int):
        self._saved = saved
        self._log_targets = log_targets
        self._clock = clock
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response, search_id: int) -> None:
        caller = caller_of(req)
        resp.media = saved_json(req, self._saved.get(caller, search_id), caller)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, search_id: int) -> None:
        caller = caller_of(req)
        raw = json_body(req, self._max_body)
        body = parse_fields(SAVED_SEARCH_BODY.fields, raw, self._clock())
        changes = {k: v for k, v in body.items() if v is not None}
        if "name" in changes:
            if not changes["name"].strip():
                raise bad_request('Parameter "name" must not be blank')
            changes["name"] = changes["name"].strip()
        if "query" in changes:
            changes["query"] = changes["query"].lstrip("?")
            saved_query_filters(changes["query"], self._clock, self._log_targets)
        resp.media = saved_json(req, self._saved.update(caller, search_id, changes), caller)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, search_id: int) -> None:
        self._saved.delete(caller_of(req), search_id)
        resp.status = falcon.HTTP_204
