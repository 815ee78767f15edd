"""JSON shapes of jobs, job types, executions and files, in Scale v6's key order (see api.job_schemas)."""
from __future__ import annotations

from datetime import datetime, timezone

from jobs import seed
from jobs.records import JobDetail


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with Z; microseconds only when non-zero."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{value.microsecond:06d}Z" if value.microsecond else text + "Z"


def _data(data: dict | None) -> dict:
    data = data or {}
    return {"files": data.get("files") or {}, "json": data.get("json") or {}}


def job_type_base(t) -> dict:
    return {"id": t.id, "name": t.name, "version": t.version, "title": t.title, "description": t.description,
            "is_active": t.is_active, "is_paused": t.is_paused, "is_system": t.is_system,
            "is_published": t.is_published, "icon_code": t.icon_code, "unmet_resources": t.unmet_resources}


def job_type_item(t) -> dict:
    return {"id": t.id, "name": t.name, "version": t.version, "title": t.title, "description": t.description,
            "icon_code": t.icon_code, "is_published": t.is_published, "is_active": t.is_active,
            "is_paused": t.is_paused, "is_system": t.is_system, "max_scheduled": t.max_scheduled,
            "max_tries": t.max_tries, "revision_num": t.revision_num, "docker_image": t.docker_image,
            "unmet_resources": t.unmet_resources, "created": iso(t.created), "deprecated": iso(t.deprecated),
            "paused": iso(t.paused), "last_modified": iso(t.last_modified)}


def job_type_details(t) -> dict:
    return {**job_type_item(t), "manifest": t.manifest,
            "configuration": seed.without_secrets(seed.effective_configuration(t.configuration, None), t.manifest)}


def _node(n) -> dict | None:
    return {"id": n.id, "hostname": n.hostname} if n else None


def _error(e) -> dict | None:
    return {"id": e.id, "name": e.name, "title": e.title, "description": e.description,
            "category": e.category} if e else None


def _event(e) -> dict | None:
    return {"id": e.id, "type": e.type, "occurred": iso(e.occurred)} if e else None


def _recipe(r) -> dict | None:
    if r is None:
        return None
    t = r.recipe_type
    return {"id": r.id,
            "recipe_type": {"id": t.id, "name": t.name, "title": t.title, "description": t.description,
                            "revision_num": t.revision_num},
            "recipe_type_rev": {"id": r.recipe_type_rev_id},
            "event": {"id": r.event_id} if r.event_id else None}


def _batch(b) -> dict | None:
    return {"id": b.id, "title": b.title, "description": b.description, "created": iso(b.created)} if b else None


def _ref(id_: int | None) -> dict | None:
    return {"id": id_} if id_ is not None else None


def _input_files(job) -> dict:
    names: dict[str, list[str]] = {}
    for link in job.input_files:
        names.setdefault(link.job_input, []).append(link.input_file.file_name)
    return names


def _job_fields(job, job_type_rev: dict) -> dict:
    """Every list field, in the list's order; details insert theirs in between."""
    return {
        "id": job.id, "job_type": job_type_base(job.job_type), "job_type_rev": job_type_rev,
        "event": _event(job.event), "ingest_event": None, "recipe": _recipe(job.recipe), "batch": _batch(job.batch),
        "is_superseded": job.is_superseded, "superseded_job": _ref(job.superseded_job_id),
        "status": job.status, "node": _node(job.node), "error": _error(job.error), "max_tries": job.max_tries,
        "num_exes": job.num_exes, "input_file_size": job.input_file_size, "input_files": _input_files(job),
        "source_started": iso(job.source_started), "source_ended": iso(job.source_ended),
        "source_sensor_class": job.source_sensor_class, "source_sensor": job.source_sensor,
        "source_collection": job.source_collection, "source_task": job.source_task,
        "created": iso(job.created), "queued": iso(job.queued), "started": iso(job.started),
        "ended": iso(job.ended), "last_status_change": iso(job.last_status_change),
        "superseded": iso(job.superseded), "last_modified": iso(job.last_modified),
    }


def job_item(job) -> dict:
    rev = {"id": job.job_type_rev.id, "job_type": {"id": job.job_type_rev.job_type_id},
           "revision_num": job.job_type_rev.revision_num}
    return _job_fields(job, rev)


def job_details(detail: JobDetail) -> dict:
    job, t, rev = detail.job, detail.job.job_type, detail.job.job_type_rev
    manifest = rev.manifest
    fields = _job_fields(job, {
        "id": rev.id,
        "job_type": {"name": t.name, "version": t.version, "title": t.title, "description": t.description,
                     "icon_code": t.icon_code, "num_versions": detail.num_versions,
                     "latest_version": detail.latest_version},
        "revision_num": rev.revision_num, "docker_image": rev.docker_image, "created": iso(rev.created),
        "manifest": manifest,
    })
    out: dict = {}
    for key, value in fields.items():
        out[key] = value
        if key == "superseded_job":
            out["superseded_by_job"] = _ref(job.superseded_by_job.id if job.superseded_by_job else None)
        elif key == "node":
            out["resources"] = seed.job_resources(manifest, job.input_file_size)
        elif key == "num_exes":
            out["execution"] = execution_details(detail.execution) if detail.execution else None
            out["input"] = _data(job.input)
        elif key == "input_files":
            out["output"] = _data(job.output)
    out["configuration"] = seed.without_secrets(
        seed.effective_configuration(t.configuration, job.configuration), manifest)
    return out


def execution_item(e) -> dict:
    return {"id": e.id, "status": e.status, "exe_num": e.exe_num, "cluster_id": e.cluster_id,
            "created": iso(e.created), "queued": iso(e.queued), "started": iso(e.started), "ended": iso(e.ended),
            "job": {"id": e.job_id}, "node": _node(e.node), "error": _error(e.error),
            "job_type": job_type_base(e.job_type), "timeout": e.timeout, "input_file_size": e.input_file_size}


def execution_details(e) -> dict:
    return {**execution_item(e), "task_results": e.task_results, "resources": e.resources,
            "configuration": e.configuration, "output": _data(e.output)}


def scale_file(f) -> dict:
    base = (f.workspace.base_url or "").rstrip("/")
    return {"id": f.id, "workspace": {"id": f.workspace.id, "name": f.workspace.name}, "file_name": f.file_name,
            "file_path": f.file_path, "file_type": f.file_type, "file_size": f.file_size,
            "media_type": f.media_type, "data_type_tags": f.data_type_tags, "is_deleted": f.is_deleted,
            "url": f"{base}/{f.file_path}" if base else None, "created": iso(f.created),
            "deleted": iso(f.deleted), "data_started": iso(f.data_started), "data_ended": iso(f.data_ended),
            "source_started": iso(f.source_started), "source_ended": iso(f.source_ended),
            "source_sensor_class": f.source_sensor_class, "source_sensor": f.source_sensor,
            "source_collection": f.source_collection, "source_task": f.source_task,
            "last_modified": iso(f.last_modified)}
