"""The v6 job type routes: add a Seed image, list job types, one job type's details."""
from __future__ import annotations

from urllib.parse import quote

import falcon

from api import job_schemas as S
from api.errors import not_found
from api.job_body import as_bool, as_int32, as_object, as_str, field, json_body, store_errors
from api.job_routes import ERROR_413, ERROR_415
from api.job_serialize import job_type_details, job_type_item
from api.pagination import PAGE_PARAMS, base_url, envelope, page_of
from api.params import Param, parse_query
from api.routing import Operation, json_response
from api.schemas import paginated
from jobs.records import JobTypeQuery

JOB_TYPE_PARAMS = (
    Param("keyword", description="Part of the name, title or description (case-insensitive)."),
    Param("id", "integer", many=True),
    Param("is_active", "boolean"),
    Param("is_system", "boolean"),
)


class JobTypes:
    operations = {
        "GET": Operation("List job types", query=JOB_TYPE_PARAMS + PAGE_PARAMS, tags=("job types",),
                         responses={200: json_response(paginated(S.JOB_TYPE_ITEM))}),
        "POST": Operation("Add a Seed image: a new job type, or a new revision of an existing one",
                          body=S.JOB_TYPE_CREATE, tags=("job types",), responses={
                              201: json_response(S.JOB_TYPE_DETAILS, "Created", headers=("Location",)),
                              200: json_response(S.JOB_TYPE_DETAILS, "New revision of an existing job type",
                                                 headers=("Location",)),
                              413: ERROR_413, 415: ERROR_415}),
    }

    def __init__(self, store, clock, max_body: int):
        self._store = store
        self._clock = clock
        self._max_body = max_body

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, JOB_TYPE_PARAMS, self._clock)
        page = page_of(req)
        query = JobTypeQuery(keyword=q["keyword"], ids=q["id"], is_active=q["is_active"], is_system=q["is_system"])
        count, rows = self._store.list_job_types(query, page.offset, page.size)
        resp.media = envelope(req, page, count, [job_type_item(t) for t in rows])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_body(req, self._max_body)
        docker_image = field(body, "docker_image", as_str, required=True)
        manifest = field(body, "manifest", as_object, required=True)
        configuration = field(body, "configuration", as_object)
        with store_errors():
            job_type, created = self._store.save_job_type(
                docker_image, manifest, configuration,
                icon_code=field(body, "icon_code", as_str), max_scheduled=field(body, "max_scheduled", as_int32),
                is_published=field(body, "is_published", as_bool), is_active=field(body, "is_active", as_bool),
                is_paused=field(body, "is_paused", as_bool))
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        resp.location = f"{base_url(req)}/v6/job-types/{quote(job_type.name)}/{quote(job_type.version)}/"
        resp.media = job_type_details(job_type)


class JobTypeDetails:
    operations = {"GET": Operation("One job type by name and version", tags=("job types",),
                                   responses={200: json_response(S.JOB_TYPE_DETAILS)})}

    def __init__(self, store):
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str, version: str) -> None:
        job_type = self._store.get_job_type(name, version)
        if job_type is None:
            raise not_found()
        resp.media = job_type_details(job_type)
