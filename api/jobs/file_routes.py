"""Scale's Files service, the part its UI uses: GET /v6/files/ (the job page's Outputs panel asks
?job_id=N&sortField=last_modified&sortOrder=desc; sortField and sortOrder are not Scale's, so they are ignored)."""

from __future__ import annotations

import falcon

from api.errors import bad_request
from api.jobs import job_schemas
from api.jobs.job_serialize import scale_file
from api.pagination import PAGE_PARAMS, envelope, page_of
from api.params import Param, check_window, parse_query
from api.routing import Operation, json_response
from api.schemas import paginated
from core.times import Clock
from jobs.file_store import FILE_ORDER_FIELDS, FileStore
from jobs.records import FileQuery, OrderKey

# (start, end) parameter pairs, each a window checked like every started/ended pair
WINDOWS = (
    ("data_started", "data_ended"),
    ("created_started", "created_ended"),
    ("source_started", "source_ended"),
    ("modified_started", "modified_ended"),
)
FILE_PARAMS = (
    Param("data_started", "timestamp", description="Files whose data started at or after this time."),
    Param("data_ended", "timestamp", description="Files whose data ended at or before this time."),
    Param("created_started", "timestamp"),
    Param("created_ended", "timestamp"),
    Param("source_started", "timestamp", description="Files whose source data started at or after this time."),
    Param("source_ended", "timestamp"),
    Param("modified_started", "timestamp", description="Files last modified at or after this time."),
    Param("modified_ended", "timestamp"),
    Param("source_sensor_class", many=True),
    Param("source_sensor", many=True),
    Param("source_collection", many=True),
    Param("source_task", many=True),
    Param("file_type", many=True, description="SOURCE (ingested) or PRODUCT (made by a job)."),
    Param("media_type", many=True),
    Param("countries", many=True, description="Files lying in these countries: none here, no file has a geometry."),
    Param("job_type_id", "integer", many=True),
    Param("job_type_name", many=True),
    Param("job_id", "integer", many=True, description="Files produced by these jobs."),
    Param("job_exe_id", "integer", many=True, description="Files produced by these executions."),
    Param("file_name", many=True),
    Param("job_output", many=True, description="Files of these outputs of their job's interface."),
    Param("recipe_id", "integer", many=True),
    Param("recipe_type_id", "integer", many=True),
    Param("recipe_node", many=True),
    Param("batch_id", "integer", many=True),
    Param("order", many=True, description="Fields to order by (default last_modified), '-' prefix for descending."),
)


def parse_file_order(values: list[str] | None) -> tuple[OrderKey, ...]:
    keys = []
    for value in values or ():
        name = value[1:] if value.startswith("-") else value
        if name not in FILE_ORDER_FIELDS:
            raise bad_request(f'Invalid order field: "{name}"')
        keys.append(OrderKey(name, value.startswith("-")))
    return tuple(keys)


class Files:
    operations = {
        "GET": Operation(
            "List Scale files: the files jobs produced and the ones they read",
            query=FILE_PARAMS + PAGE_PARAMS,
            tags=("files",),
            responses={200: json_response(paginated(job_schemas.SCALE_FILE))},
        )
    }

    def __init__(self, files: FileStore, clock: Clock, read_only_list_rows: int | None = None):
        self._files = files
        self._clock = clock
        self._read_only_list_rows = read_only_list_rows

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = parse_query(req, FILE_PARAMS, self._clock)
        for start, end in WINDOWS:
            check_window(q[start], q[end])
        order = parse_file_order(q["order"])
        page = page_of(req)
        query = FileQuery(
            **{name: q[name] for pair in WINDOWS for name in pair},
            source_sensor_classes=q["source_sensor_class"],
            source_sensors=q["source_sensor"],
            source_collections=q["source_collection"],
            source_tasks=q["source_task"],
            file_types=q["file_type"],
            media_types=q["media_type"],
            countries=q["countries"],
            job_type_ids=q["job_type_id"],
            job_type_names=q["job_type_name"],
            job_ids=q["job_id"],
            job_exe_ids=q["job_exe_id"],
            file_names=q["file_name"],
            job_outputs=q["job_output"],
            recipe_ids=q["recipe_id"],
            recipe_type_ids=q["recipe_type_id"],
            recipe_nodes=q["recipe_node"],
            batch_ids=q["batch_id"],
            order=order,
        )
        identity = req.context.identity  # staff may ask for any page; the rest only the first rows
        bound = None if identity is not None and identity.is_staff else self._read_only_list_rows
        count, files = self._files.list_files(query, page.offset, page.size, bound)
        resp.media = envelope(req, page, count, [scale_file(f) for f in files])
