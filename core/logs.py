"""Logging for every program of the service: one handler on the root logger, JSON lines or plain text.

JSON lines carry a record's `extra` fields as keys (the request log's id, route, status, ...), so a log
shipper can index them without parsing messages.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "message")
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger"}


def configure_logging(level: str, fmt: str, stream: TextIO | None = None) -> None:
    """Route every logger through one handler on `stream` (stderr by default), at `level`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields=JSON_NAMES, json_ensure_ascii=False))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
