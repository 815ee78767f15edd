"""gunicorn settings for `gunicorn -c gunicorn.conf.py api.wsgi:app`.

gthread workers: a followed log (`follow=true`) holds one thread, not a whole worker, and each follow
ends after FOLLOW_MAX_SECONDS, so long-lived readers can never starve the job routes.
"""

import sys

from settings import ConfigurationError, Settings

try:
    _settings = Settings.from_env()
except ConfigurationError as exc:
    sys.exit(f"gunicorn: {exc}")

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers
worker_class = "gthread"
threads = 16
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"
# gunicorn's control socket has one fixed default path; several instances on one machine would collide.
control_socket_disable = True

# In the master, before any worker is forked: credentials the cluster refuses, a missing privilege or an
# untrusted certificate stop the server with one line; a cluster that is merely down does not.
from api.startup import preflight_or_exit  # noqa: E402 (after the settings it checks)

preflight_or_exit(_settings)
