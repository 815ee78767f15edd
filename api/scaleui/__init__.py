"""Routes that Scale's web UI (ngageoint/scale-ui) calls on its job pages beyond the job services: the dashboard's
job type status, running jobs, the queue, job type editing, nodes, workspaces, metrics and the catalogues the
pages load. Grouped here so api/ does not grow flat."""
