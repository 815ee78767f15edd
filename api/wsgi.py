"""gunicorn entry point: `gunicorn api.wsgi:app`."""

from api.app import create_app
from api.services import build_services
from api.startup import start_daily_prune
from core.times import utcnow
from settings import Settings

settings = Settings.from_env()
services = build_services(settings, utcnow)
app = create_app(services, settings)
# Each worker has a retention thread; the shared database lets one process of the fleet prune per day.
pruner = start_daily_prune(settings, services.stores.db, utcnow)
