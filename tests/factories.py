"""Reference data no route creates (workspaces, files, batches, recipes), written straight into the test's
database; and Seed manifests for tests that need a job type."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from core.times import Clock
from jobs.db import Database
from jobs.models import Batch, Recipe, RecipeType, RecipeTypeRevision, ScaleFile, TriggerEvent, Workspace


class ReferenceData:
    def __init__(self, db: Database, clock: Clock):
        self._sessions = db.sessions
        self._clock = clock

    def add_workspace(self, name: str, base_url: str | None = None, title: str | None = None) -> int:
        now = self._clock()
        with self._sessions.begin() as s:
            row = Workspace(
                name=name,
                title=title,
                base_url=base_url,
                is_active=True,
                json_config={},
                created=now,
                last_modified=now,
            )
            s.add(row)
            s.flush()
            return row.id

    def add_file(self, workspace_id: int, file_name: str, file_size: int, **fields: Any) -> int:
        """A Scale file (size in bytes); `fields` are other ScaleFile columns (media_type, source_*...)."""
        now = self._clock()
        fields.setdefault("file_path", file_name)
        with self._sessions.begin() as s:
            row = ScaleFile(
                workspace_id=workspace_id,
                file_name=file_name,
                file_size=file_size,
                data_type_tags=[],
                created=now,
                last_modified=now,
                **fields,
            )
            s.add(row)
            s.flush()
            return row.id

    def add_batch(self, title: str, description: str | None = None) -> int:
        now = self._clock()
        with self._sessions.begin() as s:
            row = Batch(title=title, description=description, created=now, last_modified=now)
            s.add(row)
            s.flush()
            return row.id

    def add_recipe(self, recipe_type_name: str, batch_id: int | None = None) -> int:
        """A recipe of the named recipe type (created on first use), triggered by a new event."""
        now = self._clock()
        with self._sessions.begin() as s:
            recipe_type = s.scalar(select(RecipeType).where(RecipeType.name == recipe_type_name))
            if recipe_type is None:
                recipe_type = RecipeType(
                    name=recipe_type_name,
                    title=recipe_type_name,
                    revision_num=1,
                    is_active=True,
                    definition={},
                    created=now,
                    last_modified=now,
                )
                s.add(recipe_type)
                s.flush()
                s.add(RecipeTypeRevision(recipe_type_id=recipe_type.id, revision_num=1, definition={}, created=now))
            revision_id = s.scalar(
                select(RecipeTypeRevision.id).where(
                    RecipeTypeRevision.recipe_type_id == recipe_type.id,
                    RecipeTypeRevision.revision_num == recipe_type.revision_num,
                )
            )
            event = TriggerEvent(type="USER", description={}, occurred=now)
            s.add(event)
            s.flush()
            row = Recipe(
                recipe_type_id=recipe_type.id,
                recipe_type_rev_id=revision_id,
                event_id=event.id,
                batch_id=batch_id,
                is_superseded=False,
                created=now,
                last_modified=now,
            )
            s.add(row)
            s.flush()
            return row.id


def manifest(
    name: str | None = None,
    version: str = "1.0.0",
    *,
    command: str = "run",
    timeout: int = 60,
    title: str = "Test Job",
    files=(),
    json=(),
    settings=(),
    errors=(),
    resources=None,
    **job,
) -> dict:
    """A Seed manifest; without a name, a new one each time (so each call makes a new job type)."""
    body = {
        "name": name or f"test-{uuid.uuid4().hex[:8]}",
        "jobVersion": version,
        "packageVersion": "1.0.0",
        "title": title,
        "description": "A test job",
        "timeout": timeout,
        "interface": {
            "command": command,
            "inputs": {"files": list(files), "json": list(json)},
            "settings": list(settings),
        },
        "errors": list(errors),
        **job,
    }
    if resources is not None:
        body["resources"] = {"scalar": resources}
    return {"seedVersion": "1.0.0", "job": body}
