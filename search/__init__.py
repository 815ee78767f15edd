"""Reading and searching log lines in Elasticsearch. Every Elasticsearch query of the service lives here."""

from search.errors import LogsExpired, LogsUnavailable, SearchRefused
from search.reads import LogSearch, Window

__all__ = ["LogSearch", "LogsExpired", "LogsUnavailable", "SearchRefused", "Window"]
