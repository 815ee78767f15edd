"""gunicorn settings for `gunicorn -c gunicorn.conf.py api.wsgi:app`.

gthread workers: a followed log (`follow=true`) holds one thread, not a whole worker, and each follow
ends after FOLLOW_MAX_SECONDS, so long-lived readers can never starve the job routes.
"""

from settings import Settings

_settings = Settings.from_env()

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
