"""The service's Dockerfile can't drift from what the venv and the tier's job image are made of (no image is
built here: there is no Docker, and a base image would need a container registry): the Python minor version of
scripts/k8s_images.py, requirements.txt as the one list installed, a non-root user, nothing secret in ENV and
local state kept out of the build context."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_dockerfile_installs_requirements_txt_on_the_tiers_python_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    base = re.fullmatch(r"FROM python:(\d+\.\d+)-slim-\w+", lines[0])
    tier = re.search(r'^PYTHON = "/usr/bin/python(\d+\.\d+)"$', (ROOT / "scripts" / "k8s_images.py").read_text(), re.M)
    assert base and tier and base[1] == tier[1]
    assert "COPY requirements.txt pyproject.toml ./" in lines and "RUN pip install -r requirements.txt" in lines
    assert not any(re.search(r"pip install(?! -r requirements.txt| --no-deps -e \.)", line) for line in lines)
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    env = " ".join(line for line in lines if line.startswith(("ENV", "PYTHON", "PIP", "DATA", "HOST")))
    assert not re.search(r"TOKEN|PASSWORD|API_KEY|SECRET|DATABASE_URL|ELASTICSEARCH_URL", env)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"data/", ".venv/", ".git/", ".env"} <= set(ignored)
