"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 10:30:43.546749

Every table of the job services, their indexes, and the built-in errors.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# (name, category, title, description, should_be_retried): Scale's built-in errors.
BUILTIN_ERRORS = [
    ("unknown", "SYSTEM", "Unknown Error", "The cause of this failure is unknown.", True),
    ("algorithm-unknown", "ALGORITHM", "Algorithm Unknown", "The algorithm failed with an unknown error.", False),
    ("database", "SYSTEM", "Database", "The database was unavailable.", True),
    ("database-operation", "SYSTEM", "Database Operation", "A database operation failed.", True),
    ("docker-task-launch", "SYSTEM", "Docker Task Launch", "Docker failed to launch the task.", True),
    ("filesystem-io", "SYSTEM", "Filesystem I/O", "A filesystem operation failed.", True),
    ("launch-timeout", "SYSTEM", "Launch Timeout", "The task took too long to launch.", True),
    ("node-lost", "SYSTEM", "Node Lost", "The node running the job was lost or restarted.", True),
    ("pull", "SYSTEM", "Docker Pull", "The Docker image could not be pulled.", True),
    ("pull-timeout", "SYSTEM", "Docker Pull Timeout", "Pulling the Docker image took too long.", True),
    ("resource-starvation", "SYSTEM", "Resource Starvation", "The task ran out of resources.", True),
    ("scheduler-lost", "SYSTEM", "Scheduler Lost", "The scheduler was lost while the job ran.", True),
    ("task-launch", "SYSTEM", "Task Launch", "The task failed to launch.", True),
    ("timeout", "ALGORITHM", "Timeout", "The job ran longer than its timeout.", False),
]


def seed_errors(errors: sa.Table) -> None:
    now = datetime.now(UTC)
    op.bulk_insert(
        errors,
        [
            {
                "name": name,
                "category": category,
                "title": title,
                "description": description,
                "is_builtin": True,
                "should_be_retried": retried,
                "job_type_name": None,
                "created": now,
                "last_modified": now,
            }
            for name, category, title, description, retried in BUILTIN_ERRORS
        ],
    )


def upgrade() -> None:
    errors = op.create_table(
        "errors",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=50), nullable=True),
        sa.Column("description", sa.String(length=250), nullable=True),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("is_builtin", sa.Boolean(), nullable=False),
        sa.Column("should_be_retried", sa.Boolean(), nullable=False),
        sa.Column("job_type_name", sa.String(length=250), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_type_name", "name"),
    )
    op.create_table(
        "job_types",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=50), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("icon_code", sa.String(length=20), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("is_published", sa.Boolean(), nullable=False),
        sa.Column("unmet_resources", sa.String(length=250), nullable=True),
        sa.Column("max_scheduled", sa.Integer(), nullable=True),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("docker_image", sa.String(length=500), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("revision_num", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deprecated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "version"),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hostname", sa.String(length=250), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hostname"),
    )
    op.create_table(
        "recipe_types",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=50), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("revision_num", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "trigger_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("occurred", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trigger_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trigger_events_type"), ["type"], unique=False)

    op.create_table(
        "workspaces",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=50), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("json_config", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=50), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("recipe_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["trigger_events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recipe_type_id"],
            ["recipe_types.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "job_type_revisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("revision_num", sa.Integer(), nullable=False),
        sa.Column("docker_image", sa.String(length=500), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_type_id"],
            ["job_types.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_type_id", "revision_num"),
    )
    op.create_table(
        "recipe_type_revisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recipe_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("revision_num", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipe_type_id"],
            ["recipe_types.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("recipe_type_id", "revision_num"),
    )
    op.create_table(
        "recipes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recipe_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recipe_type_rev_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("is_superseded", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["trigger_events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recipe_type_id"],
            ["recipe_types.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recipe_type_rev_id"],
            ["recipe_type_revisions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recipes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recipes_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recipes_recipe_type_id"), ["recipe_type_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_type_rev_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recipe_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("is_superseded", sa.Boolean(), nullable=False),
        sa.Column("superseded_job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("superseded", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("node_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("error_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("num_exes", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("input_file_size", sa.Float(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("configuration", sa.JSON(), nullable=True),
        sa.Column("source_started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_sensor_class", sa.String(length=250), nullable=True),
        sa.Column("source_sensor", sa.String(length=250), nullable=True),
        sa.Column("source_collection", sa.String(length=250), nullable=True),
        sa.Column("source_task", sa.String(length=250), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_change", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
        ),
        sa.ForeignKeyConstraint(
            ["error_id"],
            ["errors.id"],
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["trigger_events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["job_type_id"],
            ["job_types.id"],
        ),
        sa.ForeignKeyConstraint(
            ["job_type_rev_id"],
            ["job_type_revisions.id"],
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recipe_id"],
            ["recipes.id"],
        ),
        sa.ForeignKeyConstraint(
            ["superseded_job_id"],
            ["jobs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("superseded_job_id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_created"), ["created"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_ended"), ["ended"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_error_id"), ["error_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_is_superseded"), ["is_superseded"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_job_type_id"), ["job_type_id"], unique=False)
        batch_op.create_index("ix_jobs_last_modified_id", ["last_modified", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_node_id"), ["node_id"], unique=False)
        batch_op.create_index("ix_jobs_queue", ["status", "priority", "queued", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_recipe_id"), ["recipe_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_source_collection"), ["source_collection"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_source_ended"), ["source_ended"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_source_sensor"), ["source_sensor"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_source_sensor_class"), ["source_sensor_class"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_source_started"), ["source_started"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_source_task"), ["source_task"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_started"), ["started"], unique=False)
        batch_op.create_index("ix_jobs_status_last_modified", ["status", "last_modified", "id"], unique=False)

    op.create_table(
        "job_executions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("exe_num", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.String(length=100), nullable=False),
        sa.Column("node_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("error_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("input_file_size", sa.Float(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("task_results", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("log_seq", sa.BigInteger(), nullable=False),
        sa.Column("queued", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["error_id"],
            ["errors.id"],
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["job_type_id"],
            ["job_types.id"],
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cluster_id"),
        sa.UniqueConstraint("job_id", "exe_num"),
    )
    with op.batch_alter_table("job_executions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_executions_error_id"), ["error_id"], unique=False)
        batch_op.create_index("ix_job_executions_node_status", ["node_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_executions_status"), ["status"], unique=False)

    op.create_table(
        "scale_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("workspace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("file_name", sa.String(length=250), nullable=False),
        sa.Column("file_path", sa.String(length=1000), nullable=False),
        sa.Column("file_type", sa.String(length=50), nullable=False),
        sa.Column("media_type", sa.String(length=250), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("data_type_tags", sa.JSON(), nullable=False),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("data_started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data_ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_sensor_class", sa.String(length=250), nullable=True),
        sa.Column("source_sensor", sa.String(length=250), nullable=True),
        sa.Column("source_collection", sa.String(length=250), nullable=True),
        sa.Column("source_task", sa.String(length=250), nullable=True),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scale_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scale_files_file_name"), ["file_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_scale_files_last_modified"), ["last_modified"], unique=False)

    op.create_table(
        "job_input_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("input_file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_input", sa.String(length=250), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["input_file_id"],
            ["scale_files.id"],
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "job_input", "input_file_id"),
    )
    with op.batch_alter_table("job_input_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_input_files_input_file_id"), ["input_file_id"], unique=False)
    seed_errors(errors)


def downgrade() -> None:
    with op.batch_alter_table("job_input_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_input_files_input_file_id"))

    op.drop_table("job_input_files")
    with op.batch_alter_table("scale_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scale_files_last_modified"))
        batch_op.drop_index(batch_op.f("ix_scale_files_file_name"))

    op.drop_table("scale_files")
    with op.batch_alter_table("job_executions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_executions_status"))
        batch_op.drop_index("ix_job_executions_node_status")
        batch_op.drop_index(batch_op.f("ix_job_executions_error_id"))

    op.drop_table("job_executions")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_last_modified")
        batch_op.drop_index(batch_op.f("ix_jobs_started"))
        batch_op.drop_index(batch_op.f("ix_jobs_source_task"))
        batch_op.drop_index(batch_op.f("ix_jobs_source_started"))
        batch_op.drop_index(batch_op.f("ix_jobs_source_sensor_class"))
        batch_op.drop_index(batch_op.f("ix_jobs_source_sensor"))
        batch_op.drop_index(batch_op.f("ix_jobs_source_ended"))
        batch_op.drop_index(batch_op.f("ix_jobs_source_collection"))
        batch_op.drop_index(batch_op.f("ix_jobs_recipe_id"))
        batch_op.drop_index("ix_jobs_queue")
        batch_op.drop_index(batch_op.f("ix_jobs_node_id"))
        batch_op.drop_index("ix_jobs_last_modified_id")
        batch_op.drop_index(batch_op.f("ix_jobs_job_type_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_is_superseded"))
        batch_op.drop_index(batch_op.f("ix_jobs_event_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_error_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_ended"))
        batch_op.drop_index(batch_op.f("ix_jobs_created"))
        batch_op.drop_index(batch_op.f("ix_jobs_batch_id"))

    op.drop_table("jobs")
    with op.batch_alter_table("recipes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recipes_recipe_type_id"))
        batch_op.drop_index(batch_op.f("ix_recipes_batch_id"))

    op.drop_table("recipes")
    op.drop_table("recipe_type_revisions")
    op.drop_table("job_type_revisions")
    op.drop_table("batches")
    op.drop_table("workspaces")
    with op.batch_alter_table("trigger_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trigger_events_type"))

    op.drop_table("trigger_events")
    op.drop_table("recipe_types")
    op.drop_table("nodes")
    op.drop_table("job_types")
    op.drop_table("errors")
