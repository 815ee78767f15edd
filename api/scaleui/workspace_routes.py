"""Scale's workspaces (System -> Workspaces): GET and POST /v6/workspaces/, GET and PATCH /v6/workspaces/{id}/,
POST /v6/workspaces/validation/. Writes need staff. Executors report files only into workspaces that exist."""

from __future__ import annotations

from typing import Any

import falcon

from api.bodies import BOOLEAN, STRING, Body, Field, json_object
from api.errors import not_found
from api.jobs import job_schemas
from api.pagination import PAGE_PARAMS, base_url, envelope, page_of
from api.params import Param, check_window, parse_query
from api.routing import Operation, Response, json_response
from api.scaleui.job_type_edit_routes import VALIDATION
from api.scaleui.orders import parse_order
from api.schemas import ERROR_413, ERROR_415, component, paginated
from core.times import Clock
from jobs.records import WorkspaceFields
from jobs.scaleui.workspace_config import CONFIGURATION_SCHEMA, public_configuration
from jobs.scaleui.workspace_store import WORKSPACE_ORDER_FIELDS, WorkspaceStore

WORKSPACE_PARAMS = (
    Param("started", "timestamp", description="Workspaces last modified at or after this time."),
    Param("ended", "timestamp", description="Workspaces last modified at or before this time."),
    Param("name", many=True),
    Param("order", many=True, description="Fields to order by (default name), '-' prefix for descending."),
)
_FIELDS: dict[str, Any] = dict(
    id={"type": "integer"},
    name={"type": "string"},
    title=job_schemas.N_STR,
    description=job_schemas.N_STR,
    base_url=job_schemas.N_STR,
    is_active={"type": "boolean"},
    created=job_schemas.DT,
    deprecated=job_schemas.N_DT,
    last_modified=job_schemas.DT,
)
WORKSPACE = component("Workspace", job_schemas.obj(**_FIELDS))
CONFIGURATION = component("WorkspaceConfiguration", CONFIGURATION_SCHEMA)
WORKSPACE_DETAILS = component("WorkspaceDetails", job_schemas.obj(**_FIELDS, configuration={"type": "object"}))
WORKSPACE_BODY = Body(
    "WorkspaceInput",
    (
        Field("name", STRING),
        Field("title", STRING),
        Field("description", STRING),
        Field("base_url", STRING),
        Field("is_active", BOOLEAN),
        Field("configuration", json_object(CONFIGURATION)),
    ),
)


def workspace_json(w) -> dict:
    return {
        "id": w.id,
        "name": w.name,
        "title": w.title,
        "description": w.description,
        "base_url": w.base_url,
        "is_active": w.is_active,
        "created": w.created,
        "deprecated": w.deprecated,
        "last_modified": w.last_modified,
    }


def workspace_details(w) -> dict:
    return {**workspace_json(w), "configuration": public_configuration(w.json_config)}


class Workspaces:
    operations = {
        "GET": Operation(
            "List workspaces",
            query=WORKSPACE_PARAMS + PAGE_PARAMS,
            tags=("workspaces",),
            responses={200: json_response(paginated(WORKSPACE))},
        ),
        "POST": Operation(
            "Create a workspace (title and configuration required; the name is made from the title if not given)",
            body=WORKSPACE_BODY.ref,
            tags=("workspaces",),
            responses={
                201: json_response(WORKSPACE_DETAILS, "Created", headers=("Location",)),
                413: ERROR_413,
                415: ERROR_415,
            },
        ),
    }

    def __init__(self, workspaces: WorkspaceStore, clock: Clock, max_body: int):
        self._workspaces = workspaces
        self._clock = clock
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, WORKSPACE_PARAMS, self._clock)
        check_window(q["started"], q["ended"])
        order = parse_order(q["order"], WORKSPACE_ORDER_FIELDS)
        page = page_of(req)
        count, rows = self._workspaces.list_workspaces(
            q["started"], q["ended"], q["name"], order, page.offset, page.size
        )
        resp.media = envelope(req, page, count, [workspace_json(w) for w in rows])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = WORKSPACE_BODY.read(req, self._max_body, self._clock())
        workspace = self._workspaces.create_workspace(WorkspaceFields(**body))
        resp.status = falcon.HTTP_201
        resp.location = f"{base_url(req)}/v6/workspaces/{workspace.id}/"
        resp.media = workspace_details(workspace)


class WorkspaceDetails:
    operations = {
        "GET": Operation("One workspace", tags=("workspaces",), responses={200: json_response(WORKSPACE_DETAILS)}),
        "PATCH": Operation(
            "Change a workspace (not its name)",
            body=WORKSPACE_BODY.ref,
            tags=("workspaces",),
            responses={204: Response("Changed"), 413: ERROR_413, 415: ERROR_415},
        ),
    }

    def __init__(self, workspaces: WorkspaceStore, clock: Clock, max_body: int):
        self._workspaces = workspaces
        self._clock = clock
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response, workspace_id: int) -> None:
        workspace = self._workspaces.get_workspace(workspace_id)
        if workspace is None:
            raise not_found()
        resp.media = workspace_details(workspace)

    def on_patch(self, req: falcon.Request, resp: falcon.Response, workspace_id: int) -> None:
        body = WORKSPACE_BODY.read(req, self._max_body, self._clock())
        self._workspaces.edit_workspace(workspace_id, WorkspaceFields(**body))
        resp.status = falcon.HTTP_204


class WorkspaceValidation:
    operations = {
        "POST": Operation(
            "Validate a workspace without saving it",
            body=WORKSPACE_BODY.ref,
            tags=("workspaces",),
            responses={200: json_response(VALIDATION), 413: ERROR_413, 415: ERROR_415},
        )
    }

    def __init__(self, workspaces: WorkspaceStore, clock: Clock, max_body: int):
        self._workspaces = workspaces
        self._clock = clock
        self._max_body = max_body

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = WORKSPACE_BODY.read(req, self._max_body, self._clock())
        result = self._workspaces.validate_workspace(WorkspaceFields(**body))
        resp.media = {
            "is_valid": result.is_valid,
            "errors": [{"name": i.name, "description": i.description} for i in result.errors],
            "warnings": [{"name": i.name, "description": i.description} for i in result.warnings],
        }
