# The service's one image: the API (gunicorn), the worker (`python -m worker`, local or `--engine kubernetes`)
# and the node agent (`python -m ingest kubernetes-node`); mappings/kubernetes/ picks the command.
#
#   docker build -t scalelogs:latest .        (or buildah bud / podman build / kaniko: nothing Docker-only)
#
# Python 3.11, as the tier's job image (scripts/k8s_images.py) and the project's floor (pyproject.toml);
# requirements.txt is the one list of what is installed, here and in the venv (tests/test_dockerfile.py checks
# both). Nothing secret is baked in: tokens, database and Elasticsearch credentials come from the environment
# (Secrets in mappings/kubernetes/), and .dockerignore keeps data/ (local tokens, databases) out of the context.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/var/lib/scale \
    HOST=0.0.0.0

WORKDIR /app
# Dependencies first: a code change rebuilds only the layers below.
COPY requirements.txt pyproject.toml ./
RUN pip install -r requirements.txt
COPY . .
# The `scale` client's entry point (its code is the checkout's, as in `make venv`).
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/scale --create-home scale

# Any non-root user works (mappings/kubernetes runs it as 65534); the node agent's DaemonSet reads the host's
# /var/log/pods, which the kubelet writes as root (its manifest says how it is given that).
USER 10001
EXPOSE 8000
# The API. Migrate first (`python -c "from settings import Settings; from jobs.db import make_engine, upgrade;
# upgrade(make_engine(Settings.from_env().database_url))"`, as scripts/run does), e.g. from an init container.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "api.wsgi:app"]
