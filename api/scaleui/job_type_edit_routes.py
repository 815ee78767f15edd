"""Job types as Scale's UI edits and browses them: POST /v6/job-types/validation/ (the wizard and the pause button
validate first), PATCH /v6/job-types/{name}/{version}/ (pause, resume, deprecate, icon, configuration, ...),
GET /v6/job-type-names/ and GET /v6/job-types/{name}/ (the versions of a type)."""

from __future__ import annotations

import falcon

from api.bodies import BOOLEAN, CODE_POINT, INT32, Body, Field, json_body, json_object, parse_fields
from api.errors import bad_request
from api.jobs import job_schemas
from api.jobs.job_serialize import icon_code, job_type_item
from api.jobs.job_type_routes import JobTypeDetails
from api.pagination import PAGE_PARAMS, envelope, page_of
from api.params import Param, parse_query
from api.routing import Operation, Response, json_response
from api.schemas import ERROR_413, ERROR_415, component, paginated
from core.times import Clock
from jobs.job_type_store import JobTypeStore
from jobs.records import JobTypeChanges, JobTypeQuery, ValidationIssue

VALIDATION_BODY = Body(
    "JobTypeValidation",
    (
        Field("manifest", json_object(), required=True),
        Field("configuration", json_object()),
    ),
)
# Scale's editable fields; auto_update (recipes that use the type follow its new revision) has nothing to act on
# here (no recipes), so it is accepted and ignored.
UPDATE_BODY = Body(
    "JobTypeUpdate",
    (
        Field("icon_code", CODE_POINT),
        Field("is_published", BOOLEAN),
        Field("is_active", BOOLEAN),
        Field("is_paused", BOOLEAN),
        Field("max_scheduled", INT32),
        Field("max_tries", INT32),
        Field("configuration", json_object(job_schemas.CONFIGURATION_IN)),
        Field("auto_update", BOOLEAN),
    ),
)
ISSUE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "description": {"type": "string"}},
    "required": ["name", "description"],
    "additionalProperties": False,
}
VALIDATION = component(
    "JobTypeValidationResult",
    job_schemas.obj(
        is_valid={"type": "boolean"},
        errors={"type": "array", "items": ISSUE},
        warnings={"type": "array", "items": ISSUE},
    ),
)
NAME_ITEM = component(
    "JobTypeName",
    job_schemas.obj(
        name={"type": "string"},
        title=job_schemas.N_STR,
        description=job_schemas.N_STR,
        is_active={"type": "boolean"},
        is_paused={"type": "boolean"},
        is_published={"type": "boolean"},
        icon_code=job_schemas.ICON,
        unmet_resources=job_schemas.N_STR,
        versions={"type": "array", "items": {"type": "string"}},
        latest_version={"type": "string"},
    ),
)
NAME_PARAMS = (
    Param("keyword", description="Part of the name, title or description (case-insensitive)."),
    Param("id", "integer", many=True),
    Param("is_active", "boolean", description="Names with at least one version of this state."),
    Param("is_system", "boolean"),
)
VERSION_PARAMS = (Param("is_active", "boolean"),)


def _issues(issues: list[ValidationIssue]) -> list[dict]:
    return [{"name": i.name, "description": i.description} for i in issues]


class JobTypeValidation:
    operations = {
        "POST": Operation(
            "Validate a job type (Seed manifest and configuration) without saving it",
            body=VALIDATION_BODY.ref,
            tags=("job types",),
            responses={200: json_response(VALIDATION), 413: ERROR_413, 415: ERROR_415},
        )
    }

    def __init__(self, job_types: JobTypeStore, clock: Clock, max_body: int):
        self._job_types = job_types
        self._clock = clock
        self._max_body = max_body

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = VALIDATION_BODY.read(req, self._max_body, self._clock())
        result = self._job_types.validate_job_type(body["manifest"], body["configuration"])
        resp.media = {
            "is_valid": result.is_valid,
            "errors": _issues(result.errors),
            "warnings": _issues(result.warnings),
        }


class JobTypeDetailsEditable(JobTypeDetails):
    """GET one job type (api.jobs.job_type_routes) and PATCH what a staff user may change on it."""

    operations = {
        **JobTypeDetails.operations,
        "PATCH": Operation(
            "Change a job type: pause or resume, activate or deprecate, icon, publishing, limits, configuration",
            body=UPDATE_BODY.ref,
            tags=("job types",),
            responses={204: Response("Changed"), 413: ERROR_413, 415: ERROR_415},
        ),
    }

    def __init__(self, job_types: JobTypeStore, clock: Clock, max_body: int):
        super().__init__(job_types)
        self._clock = clock
        self._max_body = max_body

    def on_patch(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        raw = json_body(req, self._max_body)
        known = {f.name for f in UPDATE_BODY.fields}
        unknown = sorted(set(raw) - known)
        if unknown:  # Scale refused them too (its InvalidJobField), as a 500; name the field instead
            raise bad_request(f'Field may not be changed: "{unknown[0]}"')
        body = parse_fields(UPDATE_BODY.fields, raw, self._clock())
        fields = {f.name: body[f.name] for f in UPDATE_BODY.fields if f.name != "auto_update"}
        self._job_types.update_job_type(name, version, JobTypeChanges(**fields))
        resp.status = falcon.HTTP_204


class JobTypeNames:
    operations = {
        "GET": Operation(
            "Job type names, each with its versions",
            query=NAME_PARAMS + PAGE_PARAMS,
            tags=("job types",),
            responses={200: json_response(paginated(NAME_ITEM))},
        )
    }

    def __init__(self, job_types: JobTypeStore, clock: Clock):
        self._job_types = job_types
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, NAME_PARAMS, self._clock)
        page = page_of(req)
        query = JobTypeQuery(keyword=q["keyword"], ids=q["id"], is_active=q["is_active"], is_system=q["is_system"])
        count, names = self._job_types.job_type_names(query, page.offset, page.size)
        results = [
            {
                "name": n.latest.name,
                "title": n.latest.title,
                "description": n.latest.description,
                "is_active": n.latest.is_active,
                "is_paused": n.latest.is_paused,
                "is_published": n.latest.is_published,
                "icon_code": icon_code(n.latest.icon_code),
                "unmet_resources": n.latest.unmet_resources,
                "versions": n.versions,
                "latest_version": n.latest.version,
            }
            for n in names
        ]
        resp.media = envelope(req, page, count, results)


class JobTypeVersions:
    operations = {
        "GET": Operation(
            "The versions of a job type, newest first (none for an unknown name)",
            query=VERSION_PARAMS + PAGE_PARAMS,
            tags=("job types",),
            responses={200: json_response(paginated(job_schemas.JOB_TYPE_ITEM))},
        )
    }

    def __init__(self, job_types: JobTypeStore, clock: Clock):
        self._job_types = job_types
        self._clock = clock

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        q = parse_query(req, VERSION_PARAMS, self._clock)
        page = page_of(req)
        count, rows = self._job_types.job_type_versions(name, q["is_active"], page.offset, page.size)
        resp.media = envelope(req, page, count, [job_type_item(t) for t in rows])
