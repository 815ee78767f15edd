"""The job routes' responses as JSON schemas and their request bodies as `Body`s, all OpenAPI components."""

from __future__ import annotations

from typing import Any

from api.bodies import (
    BOOLEAN,
    CODE_POINT,
    INT32,
    INTEGER,
    NON_NEGATIVE,
    STRING,
    TIMESTAMP,
    Body,
    Field,
    either,
    filter_list_of,
    json_object,
    list_of,
    object_of,
    one_of,
    text,
    unchecked,
)
from api.schemas import component
from jobs import seed
from jobs.statuses import END_STATUSES, ERROR_CATEGORIES, EXE_STATUSES, JOB_STATUSES

STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
OBJ = {"type": "object"}
DT = {"type": "string", "format": "date-time"}
N_STR = {"type": ["string", "null"]}
N_INT = {"type": ["integer", "null"]}
N_DT = {"type": ["string", "null"], "format": "date-time"}
N_OBJ = {"type": ["object", "null"]}


def obj(**properties: dict) -> dict:
    """A closed object with exactly these keys, all present."""
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


ID_REF = obj(id=INT)
DATA = component(
    "Data",
    {
        "type": "object",
        "properties": {
            "files": {"type": "object", "additionalProperties": {"type": "array", "items": INT}},
            "json": OBJ,
        },
        "required": ["files", "json"],
    },
)
DATA_IN = component("DataInput", seed.DATA_SCHEMA)
CONFIGURATION_IN = component("JobConfigurationInput", seed.CONFIGURATION_SCHEMA)
MANIFEST = component("SeedManifest", seed.MANIFEST_SCHEMA)
CONFIGURATION = component(
    "JobConfiguration",
    obj(
        mounts=OBJ,
        priority=INT,
        output_workspaces={
            "type": "object",
            "properties": {"default": STR, "outputs": OBJ},
            "required": ["outputs"],
            "additionalProperties": False,
        },
        settings=OBJ,
    ),
)
RESOURCES = component("Resources", obj(resources={"type": "object", "additionalProperties": NUM}))

# A Font Awesome code point; job types without one show api.jobs.job_serialize.DEFAULT_ICON_CODE.
ICON = {"type": "string", "description": "Font Awesome code point (hexadecimal), e.g. f1b2"}
_JOB_TYPE_BASE: dict[str, Any] = dict(
    id=INT,
    name=STR,
    version=STR,
    title=N_STR,
    description=N_STR,
    is_active=BOOL,
    is_paused=BOOL,
    is_system=BOOL,
    is_published=BOOL,
    icon_code=ICON,
    unmet_resources=N_STR,
)
JOB_TYPE_BASE = component("JobTypeBase", obj(**_JOB_TYPE_BASE))
_JOB_TYPE_ITEM: dict[str, Any] = dict(
    id=INT,
    name=STR,
    version=STR,
    title=N_STR,
    description=N_STR,
    icon_code=ICON,
    is_published=BOOL,
    is_active=BOOL,
    is_paused=BOOL,
    is_system=BOOL,
    max_scheduled=N_INT,
    max_tries=INT,
    revision_num=INT,
    docker_image=STR,
    unmet_resources=N_STR,
    created=DT,
    deprecated=N_DT,
    paused=N_DT,
    last_modified=DT,
)
JOB_TYPE_ITEM = component("JobTypeListItem", obj(**_JOB_TYPE_ITEM))
JOB_TYPE_DETAILS = component("JobTypeDetails", obj(**_JOB_TYPE_ITEM, manifest=OBJ, configuration=CONFIGURATION))

NODE = component("NodeBase", obj(id=INT, hostname=STR))
ERROR_BASE = component(
    "ErrorBase", obj(id=INT, name=STR, title=N_STR, description=N_STR, category={"enum": list(ERROR_CATEGORIES)})
)
EVENT = component("TriggerEventBase", obj(id=INT, type=STR, occurred=DT))
# On a job's details the event is always there: a job without a trigger event of record (written by other means
# than this API) shows {"id": null, "type": "UNKNOWN", "occurred": <its created time>}.
JOB_EVENT = component("JobTriggerEvent", obj(id=N_INT, type=STR, occurred=DT))
JOB_REF = component(
    "JobBase",
    obj(
        id=INT,
        job_type=obj(
            **_JOB_TYPE_BASE,
            manifest=obj(job=obj(name=STR, jobVersion=STR, title=N_STR)),
        ),
        status={"enum": list(JOB_STATUSES)},
    ),
)
RECIPE = component(
    "RecipeBase",
    obj(
        id=INT,
        recipe_type=obj(id=INT, name=STR, title=N_STR, description=N_STR, revision_num=INT),
        recipe_type_rev=ID_REF,
        event=nullable(ID_REF),
    ),
)
BATCH = component("BatchBase", obj(id=INT, title=N_STR, description=N_STR, created=DT))

_EXECUTION_ITEM: dict[str, Any] = dict(
    id=INT,
    status={"enum": list(EXE_STATUSES)},
    exe_num=INT,
    cluster_id=STR,
    created=DT,
    queued=N_DT,
    started=DT,
    ended=N_DT,
    job=ID_REF,
    node=nullable(NODE),
    error=nullable(ERROR_BASE),
    job_type=JOB_TYPE_BASE,
    timeout=INT,
    input_file_size=NUM,
)
EXECUTION_ITEM = component("JobExecutionListItem", obj(**_EXECUTION_ITEM))
_EXECUTION_DETAILS: dict[str, Any] = dict(
    **_EXECUTION_ITEM, task_results=N_OBJ, resources=RESOURCES, configuration=OBJ, output=DATA
)
# Inside job details: the published shape. On the execution routes: plus links to its log.
JOB_EXECUTION = component("JobLatestExecution", obj(**_EXECUTION_DETAILS))
EXECUTION_DETAILS = component("JobExecutionDetails", obj(**_EXECUTION_DETAILS, log_url=STR, kibana_url=N_STR))


def _job(job_type_rev: dict, **details: dict) -> dict:
    """The list item's fields; details add theirs and override some (event, superseded_job)."""
    fields: dict[str, Any] = dict(
        id=INT,
        job_type=JOB_TYPE_BASE,
        job_type_rev=job_type_rev,
        event=nullable(EVENT),
        ingest_event={"type": "null"},
        recipe=nullable(RECIPE),
        batch=nullable(BATCH),
        is_superseded=BOOL,
        superseded_job=nullable(ID_REF),
        status={"enum": list(JOB_STATUSES)},
        node=nullable(NODE),
        error=nullable(ERROR_BASE),
        max_tries=INT,
        num_exes=INT,
        input_file_size=NUM,
        input_files={"type": "object", "additionalProperties": {"type": "array", "items": STR}},
        source_started=N_DT,
        source_ended=N_DT,
        source_sensor_class=N_STR,
        source_sensor=N_STR,
        source_collection=N_STR,
        source_task=N_STR,
        created=DT,
        queued=N_DT,
        started=N_DT,
        ended=N_DT,
        last_status_change=N_DT,
        superseded=N_DT,
        last_modified=DT,
    )
    return obj(**{**fields, **details})


JOB_ITEM = component("JobListItem", _job(obj(id=INT, job_type=ID_REF, revision_num=INT)))
JOB_DETAILS = component(
    "JobDetails",
    _job(
        obj(
            id=INT,
            job_type=obj(
                name=STR,
                version=STR,
                title=N_STR,
                description=N_STR,
                icon_code=ICON,
                num_versions=INT,
                latest_version=STR,
            ),
            revision_num=INT,
            docker_image=STR,
            created=DT,
            manifest=OBJ,
        ),
        event=JOB_EVENT,
        superseded_job=nullable(JOB_REF),
        superseded_by_job=nullable(JOB_REF),
        priority=INT,
        timeout=INT,
        resources=RESOURCES,
        execution=nullable(JOB_EXECUTION),
        input=DATA,
        output=DATA,
        configuration=CONFIGURATION,
    ),
)

RECIPE_TYPE_BASE = component("RecipeTypeBase", obj(id=INT, name=STR, title=N_STR, description=N_STR, revision_num=INT))
# Scale v6's ScaleFileSerializerV6, in its order; geometry, center_point and countries stay empty (no geometries).
SCALE_FILE = component(
    "ScaleFile",
    obj(
        id=INT,
        file_name=STR,
        workspace=obj(id=INT, name=STR),
        data_type_tags={"type": "array", "items": STR},
        media_type=STR,
        file_type=STR,
        file_size=INT,
        file_path=STR,
        is_deleted=BOOL,
        url=N_STR,
        created=DT,
        deleted=N_DT,
        data_started=N_DT,
        data_ended=N_DT,
        source_started=N_DT,
        source_ended=N_DT,
        source_sensor_class=N_STR,
        source_sensor=N_STR,
        source_collection=N_STR,
        source_task=N_STR,
        last_modified=DT,
        geometry={"type": "null"},
        center_point={"type": "null"},
        countries={"type": "array", "items": STR},
        job_type=nullable(JOB_TYPE_BASE),
        job=nullable(ID_REF),
        job_exe=nullable(ID_REF),
        job_output=N_STR,
        recipe_type=nullable(RECIPE_TYPE_BASE),
        recipe=nullable(ID_REF),
        recipe_node=N_STR,
        batch=nullable(BATCH),
        is_superseded=BOOL,
        superseded=N_DT,
    ),
)

MATCHED = component("Matched", obj(matched={"type": "integer", "minimum": 0}))

# Request bodies: parsed and documented from these declarations (api/bodies.py).
JOB_TYPE_CREATE = Body(
    "JobTypeCreate",
    (
        Field("docker_image", STRING, required=True),
        Field("manifest", json_object(MANIFEST), required=True),
        Field("configuration", json_object(CONFIGURATION_IN)),
        Field("icon_code", CODE_POINT),
        Field("max_scheduled", INT32),
        Field("is_published", BOOLEAN),
        Field("is_active", BOOLEAN),
        Field("is_paused", BOOLEAN),
    ),
)
# The configuration goes to the store unchecked: its errors read "Job type configuration invalid: ...".
JOB_CREATE = Body(
    "JobCreate",
    (
        Field("job_type_id", INTEGER, required=True),
        Field("input", json_object(DATA_IN), required=True),
        Field("configuration", unchecked(CONFIGURATION_IN)),
    ),
)
_BULK = (
    Field("started", TIMESTAMP),
    Field("ended", TIMESTAMP),
    Field("status", one_of(JOB_STATUSES)),
    Field("job_ids", list_of(INTEGER)),
    Field("job_type_ids", list_of(INTEGER)),
    Field(
        "job_types", list_of(object_of(Field("name", STRING, required=True), Field("version", STRING, required=True)))
    ),
    Field("job_type_names", filter_list_of(STRING)),
    Field("batch_ids", list_of(INTEGER)),
    Field("recipe_ids", list_of(INTEGER)),
    Field("error_categories", filter_list_of(one_of(ERROR_CATEGORIES))),
    Field("error_ids", list_of(INTEGER)),
    Field("is_superseded", BOOLEAN),
)
CANCEL = Body("JobsCancel", _BULK)
REQUEUE = Body("JobsRequeue", _BULK + (Field("priority", INT32),))
EXECUTION_START = Body("JobExecutionStart", (Field("node", STRING, required=True), Field("started", TIMESTAMP)))
# A file the execution produced (jobs.records.OutputFile); the store checks names, paths and workspaces.
OUTPUT_FILE_FIELDS = (
    Field("file_name", text(250), required=True),
    Field("file_size", NON_NEGATIVE, required=True),
    Field("file_path", text(1000)),
    Field("media_type", text(250)),
    Field("workspace", text(50)),
    Field("job_output", text(250)),
    Field("data_started", TIMESTAMP),
    Field("data_ended", TIMESTAMP),
)
EXECUTION_FINISH = Body(
    "JobExecutionFinish",
    (
        Field("status", one_of(END_STATUSES), required=True),
        Field("ended", TIMESTAMP),
        Field(
            "error",
            either(
                "name",
                (Field("name", STRING, required=True),),
                (
                    Field("category", one_of(ERROR_CATEGORIES), required=True),
                    Field("title", STRING, required=True),
                    Field("description", STRING),
                ),
            ),
        ),
        Field("output", json_object(DATA_IN)),
        Field("task_results", json_object()),
        Field("files", list_of(object_of(*OUTPUT_FILE_FIELDS))),
    ),
)
