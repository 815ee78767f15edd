"""Jobs, job types and executions on SQL (SQLAlchemy + Alembic). All SQL of the service lives in this package."""
