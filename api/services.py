"""What the app serves with, built once from the settings: the stores (SQL) and the log services
(Elasticsearch). create_app takes these, so tests build the app from stores of their own, and an app without
log services (tests of the job routes) needs no Elasticsearch at all."""

from __future__ import annotations

from dataclasses import dataclass

from core.elastic import elasticsearch_client
from core.times import Clock
from ingest import start_log_writer
from ingest.shipper import Shipper
from jobs.stores import Stores
from search import LogSearch
from settings import Settings


@dataclass(frozen=True)
class LogServices:
    search: LogSearch
    writer: Shipper


@dataclass(frozen=True)
class Services:
    stores: Stores
    logs: LogServices | None = None  # None: the job routes only

    def stopping(self) -> None:
        """The process has been told to stop: long-lived follows end now (see LogSearch.stop_follows), so the
        requests in flight finish well within gunicorn's graceful_timeout."""
        if self.logs is not None:
            self.logs.search.stop_follows()

    def close(self, ship_timeout: float = 20.0) -> bool:
        """Ship what the log writer has spooled (up to ship_timeout), then release everything; False when
        lines had to stay spooled (Elasticsearch did not take them in time: the next process sends them)."""
        shipped = self.logs.writer.close(timeout=ship_timeout) if self.logs is not None else True
        self.stores.close()
        return shipped


def build_services(settings: Settings, clock: Clock) -> Services:
    es = elasticsearch_client(settings)
    logs = LogServices(LogSearch(es, settings.log_read_indices), start_log_writer(es, settings))
    return Services(Stores.open(settings.database_url, clock), logs)
