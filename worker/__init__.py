"""The local worker (the job runner): `python -m worker` runs QUEUED jobs on this machine and ships their output.

The worker talks to the service only through its executor routes (worker/executor_client.py), with an executor
token read from EXECUTOR_TOKEN_FILE, at SCALE_API_URL: it holds no database credential, so a compromised worker
host can only start, renew and end executions (of its own node, with a node-bound token) and write logs.

Each worker holds a node name exclusively (a lock file in DATA_DIR): the host name, or host-2, host-3, ...
when several workers run here, or --node NAME. Holding it, the worker first fails the executions a dead
worker of that name left RUNNING (node-lost: requeued while tries remain), then loops: claim the next QUEUED
job (FOR UPDATE SKIP LOCKED on PostgreSQL, in the service), run the manifest's interface.command without a shell, its
inputs and settings in the environment, stream stdout/stderr into the shipper, enforce the timeout, and
record COMPLETED or FAILED (exit codes mapped through the manifest's errors, else algorithm-unknown), with the
files the job wrote to its OUTPUT_DIR (worker/outputs.py: kept in the WORKER_WORKSPACE workspace's folder).

Leases: a claimed execution is leased to its worker for WORKER_LEASE_SECONDS and renewed every third of that
while the job runs. The API fails the executions whose lease ran out (a worker that died on a machine that never
comes back: api/jobs/lease_expiry.py), so no job stays RUNNING forever. A worker that finds its lease taken (it
lost the service for longer than the lease and the execution was failed meanwhile) kills its job.
"""
