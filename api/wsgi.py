"""gunicorn entry point: `gunicorn api.wsgi:app`."""

from api.app import create_app
from api.services import build_services
from core.times import utcnow
from settings import Settings

settings = Settings.from_env()
app = create_app(build_services(settings, utcnow), settings)
