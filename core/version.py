"""This service's version: the one place it is written (GET /v6/version/ reports it; bump it on a release)."""

from __future__ import annotations

VERSION = "0.1.0"
