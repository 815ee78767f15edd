"""The SQL behind the pages of Scale's web UI beyond the job services (api/scaleui/): job type status, validation,
workspaces, nodes, metrics (kept as aggregates), the error catalogue and the timeline. Grouped here so jobs/ does
not grow flat."""
