"""The log pipeline's write side: documents, the spool, the shipper and its command line."""

from __future__ import annotations


def start_log_writer(es, settings):
    """What the app writes posted log lines with: applies the index template now if Elasticsearch answers
    (the shipper applies it before its first write otherwise) and returns a Shipper over settings.spool_dir."""
    from ingest.shipper import Shipper
    from ingest.template import LogTemplate, ensure_template_quietly

    template = LogTemplate.of(settings)
    ensure_template_quietly(es, template)
    return Shipper(es, template, settings.spool_dir, streams=settings.shipper_streams)
