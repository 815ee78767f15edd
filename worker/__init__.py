"""The local worker (the job runner): `python -m worker` runs QUEUED jobs on this machine and ships their output.

Each worker holds a node name exclusively (a lock file in DATA_DIR): the host name, or host-2, host-3, ...
when several workers run here, or --node NAME. Holding it, the worker first fails the executions a dead
worker of that name left RUNNING (node-lost: requeued while tries remain), then loops: claim the next QUEUED
job (FOR UPDATE SKIP LOCKED on PostgreSQL), run the manifest's interface.command without a shell, its
inputs and settings in the environment, stream stdout/stderr into the shipper, enforce the timeout, and
record COMPLETED or FAILED (exit codes mapped through the manifest's errors, else algorithm-unknown), with the
files the job wrote to its OUTPUT_DIR (worker/outputs.py: kept in the WORKER_WORKSPACE workspace's folder).

Leases: a claimed execution is leased to its worker for WORKER_LEASE_SECONDS and renewed every third of that
while the job runs. Between jobs every worker fails the executions whose lease ran out (a worker that died on
a machine that never comes back), so no job stays RUNNING forever. A worker that finds its lease taken (it
lost the database for longer than the lease and another worker failed the execution) kills its job.
"""
