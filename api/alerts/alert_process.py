"""`python -m api.alerts.alert_process`: an alert checker in a process of its own, for a fleet whose API processes run
with ALERT_CHECKS=0 (or beside them: the database gives each due rule to one process either way). It reads the
same settings as the API (ALERT_CHECKS aside) and stops on SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from dataclasses import replace

from api.alerts.alert_startup import start_alert_checker
from core.elastic import elasticsearch_client
from core.logs import configure_logging
from core.times import utcnow
from jobs.stores import Stores
from search import LogSearch
from settings import Settings


def main() -> None:
    settings = replace(Settings.from_env(), alert_checks=True)
    configure_logging(settings.log_level, settings.log_format)
    stores = Stores.open(settings.database_url, utcnow)
    search = LogSearch(elasticsearch_client(settings), settings.log_read_indices)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    checker = start_alert_checker(settings, stores, search, utcnow)
    stopped.wait()
    if checker is not None:
        checker.stop()
    stores.close()


if __name__ == "__main__":
    main()
