"""Log routes: ordered reads of an execution, search, follow, context, export, facets, ingest, saved searches."""
