"""JSON shapes of jobs, job types, executions and files, in Scale v6's key order (see api.jobs.job_schemas). Datetimes
stay datetime objects: the app's JSON handler (api.app.write_json) writes them as Scale does."""

from __future__ import annotations

from jobs import seed
from jobs.records import JobDetail

# Font Awesome's "cube" (fa-cube, the icon Scale's UI gives jobs), for job types created without an icon: the UI
# writes &#x{icon_code}; into the page, so a null one shows as the text "&#xnull;".
DEFAULT_ICON_CODE = "f1b2"
# A job's trigger event when it has none (jobs written by other means than this API): the UI reads event.type
# and event.occurred unguarded on the details page. The trigger happened by the time the job was created.
UNKNOWN_EVENT_TYPE = "UNKNOWN"


def icon_code(code: str | None) -> str:
    return code or DEFAULT_ICON_CODE


def _data(data: dict | None) -> dict:
    data = data or {}
    return {"files": data.get("files") or {}, "json": data.get("json") or {}}


def job_type_base(t) -> dict:
    return {
        "id": t.id,
        "name": t.name,
        "version": t.version,
        "title": t.title,
        "description": t.description,
        "is_active": t.is_active,
        "is_paused": t.is_paused,
        "is_system": t.is_system,
        "is_published": t.is_published,
        "icon_code": icon_code(t.icon_code),
        "unmet_resources": t.unmet_resources,
    }


def job_type_item(t) -> dict:
    return {
        "id": t.id,
        "name": t.name,
        "version": t.version,
        "title": t.title,
        "description": t.description,
        "icon_code": icon_code(t.icon_code),
        "is_published": t.is_published,
        "is_active": t.is_active,
        "is_paused": t.is_paused,
        "is_system": t.is_system,
        "max_scheduled": t.max_scheduled,
        "max_tries": t.max_tries,
        "revision_num": t.revision_num,
        "docker_image": t.docker_image,
        "unmet_resources": t.unmet_resources,
        "created": t.created,
        "deprecated": t.deprecated,
        "paused": t.paused,
        "last_modified": t.last_modified,
    }


def job_type_details(t) -> dict:
    return {
        **job_type_item(t),
        "manifest": t.manifest,
        "configuration": seed.without_secrets(seed.effective_configuration(t.configuration, None), t.manifest),
    }


def _node(n) -> dict | None:
    return {"id": n.id, "hostname": n.hostname} if n else None


def _error(e) -> dict | None:
    return (
        {"id": e.id, "name": e.name, "title": e.title, "description": e.description, "category": e.category}
        if e
        else None
    )


def _ref(id_: int | None) -> dict | None:
    return {"id": id_} if id_ is not None else None


# Jobs come as mappings of jobs.listing: the job's columns, and `<relation>__<column>` for what it points to.


def _recipe(r) -> dict | None:
    if r["recipe_id"] is None:
        return None
    return {
        "id": r["recipe_id"],
        "recipe_type": {
            "id": r["recipe__recipe_type_id"],
            "name": r["recipe_type__name"],
            "title": r["recipe_type__title"],
            "description": r["recipe_type__description"],
            "revision_num": r["recipe_type__revision_num"],
        },
        "recipe_type_rev": {"id": r["recipe__recipe_type_rev_id"]},
        "event": _ref(r["recipe__event_id"]),
    }


def _job_type(r, prefix: str, type_id: int) -> dict:
    """A job type as a job shows it, from the `<prefix>__<column>` values of a job mapping."""
    return {
        "id": type_id,
        "name": r[f"{prefix}__name"],
        "version": r[f"{prefix}__version"],
        "title": r[f"{prefix}__title"],
        "description": r[f"{prefix}__description"],
        "is_active": r[f"{prefix}__is_active"],
        "is_paused": r[f"{prefix}__is_paused"],
        "is_system": r[f"{prefix}__is_system"],
        "is_published": r[f"{prefix}__is_published"],
        "icon_code": icon_code(r[f"{prefix}__icon_code"]),
        "unmet_resources": r[f"{prefix}__unmet_resources"],
    }


def _job_ref(r, name: str) -> dict | None:
    """The job this one supersedes (name "superseded_job") or is superseded by ("superseded_by_job"):
    {id, job_type, status} as Scale gave it, its job type also carrying `manifest.job` {name, jobVersion, title},
    which Scale's UI reads there (Scale's own answer lacked it, and the details page threw on it)."""
    if r[f"{name}__id"] is None:
        return None
    job_type = _job_type(r, f"{name}_type", r[f"{name}__job_type_id"])
    job_type["manifest"] = {
        "job": {"name": job_type["name"], "jobVersion": job_type["version"], "title": job_type["title"]}
    }
    return {"id": r[f"{name}__id"], "job_type": job_type, "status": r[f"{name}__status"]}


def _job_fields(r, input_files: dict, job_type_rev: dict) -> dict:
    """Every list field, in the list's order; details insert theirs in between."""
    return {
        "id": r["id"],
        "job_type": _job_type(r, "job_type", r["job_type_id"]),
        "job_type_rev": job_type_rev,
        "event": None
        if r["event_id"] is None
        else {"id": r["event_id"], "type": r["event__type"], "occurred": r["event__occurred"]},
        "ingest_event": None,
        "recipe": _recipe(r),
        "batch": None
        if r["batch_id"] is None
        else {
            "id": r["batch_id"],
            "title": r["batch__title"],
            "description": r["batch__description"],
            "created": r["batch__created"],
        },
        "is_superseded": r["is_superseded"],
        "superseded_job": _ref(r["superseded_job_id"]),
        "status": r["status"],
        "node": None if r["node_id"] is None else {"id": r["node_id"], "hostname": r["node__hostname"]},
        "error": None
        if r["error_id"] is None
        else {
            "id": r["error_id"],
            "name": r["error__name"],
            "title": r["error__title"],
            "description": r["error__description"],
            "category": r["error__category"],
        },
        "max_tries": r["max_tries"],
        "num_exes": r["num_exes"],
        "input_file_size": r["input_file_size"],
        "input_files": input_files,
        "source_started": r["source_started"],
        "source_ended": r["source_ended"],
        "source_sensor_class": r["source_sensor_class"],
        "source_sensor": r["source_sensor"],
        "source_collection": r["source_collection"],
        "source_task": r["source_task"],
        "created": r["created"],
        "queued": r["queued"],
        "started": r["started"],
        "ended": r["ended"],
        "last_status_change": r["last_status_change"],
        "superseded": r["superseded"],
        "last_modified": r["last_modified"],
    }


def job_item(r, input_files: dict) -> dict:
    rev = {
        "id": r["job_type_rev_id"],
        "job_type": {"id": r["job_type_id"]},
        "revision_num": r["job_type_rev__revision_num"],
    }
    return _job_fields(r, input_files, rev)


def job_details(detail: JobDetail) -> dict:
    r = detail.job
    manifest = r["job_type_rev__manifest"]
    fields = _job_fields(
        r,
        detail.input_files,
        {
            "id": r["job_type_rev_id"],
            "job_type": {
                "name": r["job_type__name"],
                "version": r["job_type__version"],
                "title": r["job_type__title"],
                "description": r["job_type__description"],
                "icon_code": icon_code(r["job_type__icon_code"]),
                "num_versions": detail.num_versions,
                "latest_version": detail.latest_version,
            },
            "revision_num": r["job_type_rev__revision_num"],
            "docker_image": r["job_type_rev__docker_image"],
            "created": r["job_type_rev__created"],
            "manifest": manifest,
        },
    )
    if fields["event"] is None:
        fields["event"] = {"id": None, "type": UNKNOWN_EVENT_TYPE, "occurred": r["created"]}
    fields["superseded_job"] = _job_ref(r, "superseded_job")
    out: dict = {}
    for key, value in fields.items():
        out[key] = value
        if key == "superseded_job":
            out["superseded_by_job"] = _job_ref(r, "superseded_by_job")
        elif key == "max_tries":  # the details page reads these at the top level
            out["priority"] = r["priority"]
            out["timeout"] = r["timeout"]
        elif key == "node":
            out["resources"] = seed.job_resources(manifest, r["input_file_size"])
        elif key == "num_exes":
            out["execution"] = execution_details(detail.execution) if detail.execution else None
            out["input"] = _data(r["input"])
        elif key == "input_files":
            out["output"] = _data(r["output"])
    out["configuration"] = seed.without_secrets(
        seed.effective_configuration(r["job_type__configuration"], r["configuration"]), manifest
    )
    return out


def execution_item(e) -> dict:
    return {
        "id": e.id,
        "status": e.status,
        "exe_num": e.exe_num,
        "cluster_id": e.cluster_id,
        "created": e.created,
        "queued": e.queued,
        "started": e.started,
        "ended": e.ended,
        "job": {"id": e.job_id},
        "node": _node(e.node),
        "error": _error(e.error),
        "job_type": job_type_base(e.job_type),
        "timeout": e.timeout,
        "input_file_size": e.input_file_size,
    }


def execution_details(e) -> dict:
    return {
        **execution_item(e),
        "task_results": e.task_results,
        "resources": e.resources,
        "configuration": e.configuration,
        "output": _data(e.output),
    }


def scale_file(f) -> dict:
    """Scale v6's ScaleFile JSON (api.jobs.job_schemas.SCALE_FILE) of a jobs.models.ScaleFile loaded with FILE_LOAD."""
    base = (f.workspace.base_url or "").rstrip("/")
    recipe_type = f.recipe_type
    batch = f.batch
    return {
        "id": f.id,
        "file_name": f.file_name,
        "workspace": {"id": f.workspace.id, "name": f.workspace.name},
        "data_type_tags": f.data_type_tags,
        "media_type": f.media_type,
        "file_type": f.file_type,
        "file_size": f.file_size,
        "file_path": f.file_path,
        "is_deleted": f.is_deleted,
        "url": f"{base}/{f.file_path}" if base else None,
        "created": f.created,
        "deleted": f.deleted,
        "data_started": f.data_started,
        "data_ended": f.data_ended,
        "source_started": f.source_started,
        "source_ended": f.source_ended,
        "source_sensor_class": f.source_sensor_class,
        "source_sensor": f.source_sensor,
        "source_collection": f.source_collection,
        "source_task": f.source_task,
        "last_modified": f.last_modified,
        "geometry": None,
        "center_point": None,
        "countries": [],
        "job_type": job_type_base(f.job_type) if f.job_type else None,
        "job": _ref(f.job_id),
        "job_exe": _ref(f.job_exe_id),
        "job_output": f.job_output,
        "recipe_type": None
        if recipe_type is None
        else {
            "id": recipe_type.id,
            "name": recipe_type.name,
            "title": recipe_type.title,
            "description": recipe_type.description,
            "revision_num": recipe_type.revision_num,
        },
        "recipe": _ref(f.recipe_id),
        "recipe_node": f.recipe_node,
        "batch": None
        if batch is None
        else {
            "id": batch.id,
            "title": batch.title,
            "description": batch.description,
            "created": batch.created,
        },
        "is_superseded": bool(f.job and f.job.is_superseded),
        "superseded": f.job.superseded if f.job else None,
    }
