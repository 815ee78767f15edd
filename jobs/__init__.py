"""Jobs, job types and executions on SQL (SQLAlchemy + Alembic). All SQL of the service lives in this package.

One store per concern, each used by the callers of that concern only: JobTypeStore, JobStore (the list,
details, queueing, cancel and requeue), ExecutionStore (executors, workers, leases) and LogTargetStore (what
the log pipeline needs of an execution); jobs.stores.Stores opens them all on one Database.

Session lifetime, decided here on purpose: every public store method is one unit of work (one transaction,
committed before it returns) and no session outlives a call. Each Scale request changes at most one thing,
and Scale's clients rely on a change being visible to the next request, so a route that writes and then
reads back (POST /v6/jobs/ answering the job's details) reads what any other client would read. Reads of
the job list and details use Core on one connection (jobs/listing.py) instead of sessions: measured faster.
"""
