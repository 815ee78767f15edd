"""Starting this process's alert checker (api/wsgi.py in each gunicorn worker, api/alerts/alert_process.py on its own).

Apart from api/startup.py: gunicorn's master imports that before the metrics directory is ready, and the
checker brings in the metrics catalogue (prometheus_client) with it."""

from __future__ import annotations

from alerts.checker import AlertChecker, config_of
from api.logs.filters import saved_query_filters
from core.times import Clock
from jobs.stores import Stores
from search import LogSearch
from settings import Settings


def start_alert_checker(
    settings: Settings, stores: Stores, search: LogSearch | None, clock: Clock
) -> AlertChecker | None:
    """This process's alert checker (ALERT_CHECKS, on by default): every process of the fleet runs one and the
    database gives each due rule to one of them. Saved query strings are read as /v6/logs/ reads its own."""
    if not settings.alert_checks or search is None:
        return None
    return AlertChecker(
        stores.alerts,
        stores.log_targets,
        search,
        lambda query: saved_query_filters(query, clock, stores.log_targets),
        config_of(settings),
        clock,
    ).start()
