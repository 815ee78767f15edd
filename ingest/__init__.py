"""The log pipeline's write side: documents, the spool, the shipper (to Elasticsearch), the forwarder (an executor
host's lines to the API) and its command line."""

from __future__ import annotations


def start_log_writer(es, settings):
    """What the app writes posted log lines with: applies the index template now if Elasticsearch answers
    (the shipper applies it before its first write otherwise) and returns a Shipper over settings.spool_dir."""
    from ingest.shipper import Shipper
    from ingest.template import LogTemplate, ensure_template_quietly

    template = LogTemplate.of(settings)
    ensure_template_quietly(es, template)
    return Shipper(es, template, settings.spool_dir, streams=settings.shipper_streams)


def executor_log_writer(settings):
    """What an executor host holding an executor token (SCALE_API_URL, EXECUTOR_TOKEN_FILE) ships its captured lines
    with: a Forwarder to the API, spooling durably over settings.spool_dir in the Shipper's format."""
    from ingest.forwarder import Forwarder

    return Forwarder(
        settings.scale_api_url,
        settings.executor_token,
        settings.spool_dir,
        prefix=settings.log_index_prefix,
        max_body_bytes=min(settings.max_body_bytes, 4 * 1024 * 1024),
    )
