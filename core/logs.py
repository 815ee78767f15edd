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
JSON_FIELDS = ("levelname", "name", "message")
JSON_NAMES = {"levelname": "level", "name": "logger"}
# Libraries that log every request they make at INFO: heard from at WARNING unless LOG_LEVEL is DEBUG.
CHATTY = ("elastic_transport", "urllib3")


def configure_logging(level: str, fmt: str, stream: TextIO | None = None) -> None:
    """Route every logger through one handler on `stream` (stderr by default), at `level`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        formatter = JsonFormatter(JSON_FIELDS, rename_fields=JSON_NAMES, timestamp="time", json_ensure_ascii=False)
        handler.setFormatter(formatter)
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")
