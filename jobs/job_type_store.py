"""Job types: a Seed image saved as a new job type or a new revision of one, listed and looked up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError

from core.times import Clock
from jobs import seed
from jobs.db import Database
from jobs.errors import Invalid, NotFound
from jobs.models import Error, JobType, JobTypeRevision
from jobs.records import JobTypeChanges, JobTypeName, JobTypeQuery, Validation
from jobs.scaleui.job_type_validation import validate_job_type
from jobs.workspaces import check_workspaces


class JobTypeStore:
    def __init__(self, db: Database, clock: Clock):
        self._sessions = db.sessions
        self._clock = clock

    def save_job_type(
        self,
        docker_image: str,
        manifest: Any,
        configuration: Any = None,
        *,
        icon_code: str | None = None,
        max_scheduled: int | None = None,
        is_published: bool | None = None,
        is_active: bool | None = None,
        is_paused: bool | None = None,
    ) -> tuple[JobType, bool]:
        """Add a Seed image: a new job type, or a new revision of an existing name/version. Returns (row, created)."""
        seed.check_manifest(manifest)
        if configuration is not None:
            seed.check_configuration(configuration)
        configuration = seed.without_secrets(configuration or {}, manifest)
        for attempt in range(3):  # a racing writer of the same name/version makes ours hit a unique key
            try:
                with self._sessions.begin() as s:
                    check_workspaces(s, configuration)
                    return self._save_job_type(
                        s,
                        docker_image,
                        manifest,
                        configuration,
                        icon_code,
                        max_scheduled,
                        is_published,
                        is_active,
                        is_paused,
                    )
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _save_job_type(
        self, s, docker_image, manifest, configuration, icon_code, max_scheduled, is_published, is_active, is_paused
    ) -> tuple[JobType, bool]:
        now = self._clock()
        job = manifest["job"]
        job_type = s.scalar(
            select(JobType).where(JobType.name == job["name"], JobType.version == job["jobVersion"]).with_for_update()
        )
        created = job_type is None
        if created:
            job_type = JobType(
                name=job["name"],
                version=job["jobVersion"],
                revision_num=1,
                created=now,
                is_active=True,
                is_paused=False,
                is_system=False,
                is_published=False,
            )
            s.add(job_type)
        else:
            job_type.revision_num += 1
        job_type.title = job.get("title")
        job_type.description = job.get("description")
        job_type.timeout = job.get("timeout", seed.DEFAULT_TIMEOUT)
        job_type.max_tries = job_type.max_tries or 3
        job_type.docker_image = docker_image
        job_type.manifest = manifest
        job_type.configuration = configuration
        for name, value in (
            ("icon_code", icon_code),
            ("max_scheduled", max_scheduled),
            ("is_published", is_published),
            ("is_active", is_active),
        ):
            if value is not None:
                setattr(job_type, name, value)
        if is_paused is not None and is_paused != job_type.is_paused:
            job_type.is_paused = is_paused
            job_type.paused = now if is_paused else None
        job_type.deprecated = None if job_type.is_active else (job_type.deprecated or now)
        job_type.last_modified = now
        s.flush()
        s.add(
            JobTypeRevision(
                job_type_id=job_type.id,
                revision_num=job_type.revision_num,
                docker_image=docker_image,
                manifest=manifest,
                created=now,
            )
        )
        for error in seed.job_errors(manifest):
            row = s.scalar(select(Error).where(Error.job_type_name == job_type.name, Error.name == error["name"]))
            if row is None:
                row = Error(job_type_name=job_type.name, is_builtin=False, should_be_retried=False, created=now)
                s.add(row)
            for key, value in error.items():
                setattr(row, key, value)
            row.last_modified = now
        return job_type, created

    def list_job_types(self, q: JobTypeQuery, offset: int, limit: int) -> tuple[int, list[JobType]]:
        conditions = _conditions(q)
        with self._sessions() as s:
            count = s.execute(select(func.count()).select_from(JobType).where(*conditions)).scalar_one()
            rows = s.scalars(
                select(JobType)
                .where(*conditions)
                .order_by(JobType.name, JobType.version, JobType.id)
                .offset(offset)
                .limit(limit)
            ).all()
        return count, list(rows)

    def get_job_type(self, name: str, version: str) -> JobType | None:
        with self._sessions() as s:
            return s.scalar(select(JobType).where(JobType.name == name, JobType.version == version))

    def validate_job_type(self, manifest: Any, configuration: Any) -> Validation:
        """What saving this manifest and configuration would say (jobs.scaleui.job_type_validation), nothing saved."""
        with self._sessions() as s:
            return validate_job_type(s, manifest, configuration)

    def update_job_type(self, name: str, version: str, changes: JobTypeChanges) -> JobType:
        """Apply what a staff user may change on a job type (Scale's PATCH): None leaves a field as it is. A new
        configuration is checked as on creation (workspaces exist) and stored without secrets; no new revision
        (the manifest and image are unchanged). Raises NotFound, Invalid."""
        if changes.configuration is not None:
            seed.check_configuration(changes.configuration)
        if changes.max_tries is not None and changes.max_tries < 1:
            raise Invalid('Parameter must be at least 1: "max_tries"')
        now = self._clock()
        with self._sessions.begin() as s:
            job_type = s.scalar(
                select(JobType).where(JobType.name == name, JobType.version == version).with_for_update()
            )
            if job_type is None:
                raise NotFound(f"job type {name} {version}")
            if changes.configuration is not None:
                check_workspaces(s, changes.configuration)
                job_type.configuration = seed.without_secrets(changes.configuration, job_type.manifest)
            for field in ("icon_code", "is_published", "max_scheduled", "max_tries"):
                value = getattr(changes, field)
                if value is not None:
                    setattr(job_type, field, value)
            if changes.is_paused is not None and changes.is_paused != job_type.is_paused:
                job_type.is_paused = changes.is_paused
                job_type.paused = now if changes.is_paused else None
            if changes.is_active is not None and changes.is_active != job_type.is_active:
                job_type.is_active = changes.is_active
                job_type.deprecated = None if changes.is_active else now
            job_type.last_modified = now
        return job_type

    def job_type_names(self, q: JobTypeQuery, offset: int, limit: int) -> tuple[int, list[JobTypeName]]:
        """One page of job type names (by name) having a version that matches q, each with those versions."""
        conditions = _conditions(q)
        names = select(JobType.name).where(*conditions).group_by(JobType.name)
        with self._sessions() as s:
            count = s.execute(select(func.count()).select_from(names.subquery())).scalar_one()
            page = list(s.scalars(names.order_by(JobType.name).offset(offset).limit(limit)))
            rows = s.scalars(select(JobType).where(JobType.name.in_(page), *conditions)).all()
        by_name: dict[str, list[JobType]] = {}
        for row in rows:
            by_name.setdefault(row.name, []).append(row)
        out = []
        for name in page:
            versions = sorted(by_name[name], key=lambda t: version_key(t.version), reverse=True)
            out.append(JobTypeName(versions[0], [t.version for t in versions]))
        return count, out

    def job_type_versions(
        self, name: str, is_active: bool | None, offset: int, limit: int
    ) -> tuple[int, list[JobType]]:
        """The versions of a job type, newest first (Scale's -version); an unknown name has none."""
        conditions = _conditions(JobTypeQuery(is_active=is_active)) + [JobType.name == name]
        with self._sessions() as s:
            rows = list(s.scalars(select(JobType).where(*conditions)))
        rows.sort(key=lambda t: (version_key(t.version), t.version), reverse=True)
        return len(rows), rows[offset : offset + limit]


def version_key(version: str) -> tuple:
    """A semantic version's numbers, for ordering (pre-release and build suffixes ignored)."""
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("-")[0].split("+")[0].split("."))


def _conditions(q: JobTypeQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if q.keyword is not None:
        escaped = q.keyword.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(
            func.lower(JobType.name).like(pattern, escape="\\")
            | func.lower(JobType.title).like(pattern, escape="\\")
            | func.lower(JobType.description).like(pattern, escape="\\")
        )
    if q.ids is not None:
        conditions.append(JobType.id.in_(q.ids))
    if q.is_active is not None:
        conditions.append(JobType.is_active == q.is_active)
    if q.is_system is not None:
        conditions.append(JobType.is_system == q.is_system)
    return conditions
