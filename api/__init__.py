"""Falcon HTTP API: routes, request parsing and response serialization. No SQL, no Elasticsearch queries."""
