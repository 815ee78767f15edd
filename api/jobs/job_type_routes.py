"""The v6 job type routes: add a Seed image, list job types, one job type's details."""

from __future__ import annotations

from urllib.parse import quote

import falcon

from api.errors import not_found
from api.jobs import job_schemas
from api.jobs.job_serialize import job_type_details, job_type_item
from api.pagination import PAGE_PARAMS, base_url, envelope, page_of
from api.params import Param, parse_query
from api.routing import Operation, json_response
from api.schemas import ERROR_413, ERROR_415, paginated
from core.times import Clock
from jobs.job_type_store import JobTypeStore
from jobs.records import JobTypeQuery

JOB_TYPE_PARAMS = (
    Param("keyword", description="Part of the name, title or description (case-insensitive)."),
    Param("id", "integer", many=True),
    Param("is_active", "boolean"),
    Param("is_system", "boolean"),
)


class JobTypes:
    operations = {
        "GET": Operation(
            "List job types",
            query=JOB_TYPE_PARAMS + PAGE_PARAMS,
            tags=("job types",),
            responses={200: json_response(paginated(job_schemas.JOB_TYPE_ITEM))},
        ),
        "POST": Operation(
            "Add a Seed image: a new job type, or a new revision of an existing one",
            body=job_schemas.JOB_TYPE_CREATE.ref,
            tags=("job types",),
            responses={
                201: json_response(job_schemas.JOB_TYPE_DETAILS, "Created", headers=("Location",)),
                200: json_response(
                    job_schemas.JOB_TYPE_DETAILS, "New revision of an existing job type", headers=("Location",)
                ),
                413: ERROR_413,
                415: ERROR_415,
            },
        ),
    }

    def __init__(self, job_types: JobTypeStore, clock: Clock, max_body: int):
        self._job_types = job_types
        self._clock = clock
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, JOB_TYPE_PARAMS, self._clock)
        page = page_of(req)
        query = JobTypeQuery(keyword=q["keyword"], ids=q["id"], is_active=q["is_active"], is_system=q["is_system"])
        count, rows = self._job_types.list_job_types(query, page.offset, page.size)
        resp.media = envelope(req, page, count, [job_type_item(t) for t in rows])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = job_schemas.JOB_TYPE_CREATE.read(req, self._max_body, self._clock())
        job_type, created = self._job_types.save_job_type(
            body["docker_image"],
            body["manifest"],
            body["configuration"],
            icon_code=body["icon_code"],
            max_scheduled=body["max_scheduled"],
            is_published=body["is_published"],
            is_active=body["is_active"],
            is_paused=body["is_paused"],
        )
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        resp.location = f"{base_url(req)}/v6/job-types/{quote(job_type.name)}/{quote(job_type.version)}/"
        resp.media = job_type_details(job_type)


class JobTypeDetails:
    operations = {
        "GET": Operation(
            "One job type by name and version",
            tags=("job types",),
            responses={200: json_response(job_schemas.JOB_TYPE_DETAILS)},
        )
    }

    def __init__(self, job_types: JobTypeStore):
        self._job_types = job_types

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        job_type = self._job_types.get_job_type(name, version)
        if job_type is None:
            raise not_found()
        resp.media = job_type_details(job_type)
