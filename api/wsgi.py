"""gunicorn entry point: `gunicorn api.wsgi:app`.

`services` is what the app was built with: gunicorn.conf.py's worker_exit hook closes it, so each worker ships
what it spooled before it exits (a normal stop or a reload leaves nothing in the spool)."""

from api.alerts.alert_startup import start_alert_checker
from api.app import create_app
from api.jobs.lease_expiry import LeaseExpiry
from api.services import build_services
from api.startup import start_daily_prune
from core.logs import configure_logging
from core.times import utcnow
from settings import Settings

settings = Settings.from_env()
configure_logging(settings.log_level, settings.log_format)
services = build_services(settings, utcnow)
app = create_app(services, settings)
# Each worker has a retention thread; the shared database lets one process of the fleet prune per day.
pruner = start_daily_prune(settings, services.stores.db, utcnow)
# Each worker checks alerts too; a claim in the database gives each due rule to one process of the fleet.
alert_checker = start_alert_checker(settings, services.stores, services.logs.search if services.logs else None, utcnow)
# Each worker fails expired executor leases too; a claim in the database lets one process act per period.
lease_expiry = LeaseExpiry(
    services.stores.executions, services.stores.task_claims, settings.worker_lease_seconds
).start()
