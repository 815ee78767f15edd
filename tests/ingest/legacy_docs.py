"""Log documents shaped like those Scale's own Fluentd pipeline wrote (see scale-v6-behaviour.md section 7).

Scale's pipeline (Docker fluentd log driver -> Fluentd -> daily `scalelogs-YYYY.MM.DD`) used no index
template, so Elasticsearch mapped every string as `text` with a `.keyword` sub-field and `@timestamp` as
`date`; `scale_order_num` was only the nanosecond fraction of the event time (lines of one millisecond can
tie or come out of order by it); the job fields were strings. Use an index that no template matches (our
template covers `<prefix>-2*` only), e.g. `<prefix>-legacy-2019.01.01`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from elasticsearch import Elasticsearch, helpers


def legacy_doc(
    cluster_id: str,
    message: str,
    stream: str,
    at: datetime,
    nanos: int,
    *,
    job_id: int = 1,
    exe_num: int = 1,
    job_type: str = "legacy-job",
    job_version: str = "1.0.0",
    host: str = "scale-node-1",
) -> dict:
    return {
        "message": message,
        "stream": stream,
        "scale_job_exe": cluster_id,
        # Fluentd's logstash_format time: milliseconds and a +0000 offset.
        "@timestamp": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000",
        "scale_order_num": nanos,  # the event time's nanosecond fraction, not a sequence
        "host": host,
        "scale_job_type": job_type,
        "scale_job_version": job_version,
        "scale_job_id": str(job_id),
        "scale_job_exe_num": str(exe_num),
    }


def write_legacy_docs(
    es: Elasticsearch,
    index: str,
    cluster_id: str,
    lines: Iterable[tuple[str, str]],
    start: datetime,
    *,
    step: timedelta = timedelta(milliseconds=1),
    **fields,
) -> list[dict]:
    """Write (stream, message) lines as Scale's Fluentd did, one `step` apart from `start`; returns the
    documents in their true order. Auto-generated _ids and refresh, as Fluentd's bulk "index" wrote them."""
    docs = []
    for i, (stream, message) in enumerate(lines):
        at = start + step * i
        # A nanosecond fraction that is not monotonic across lines: only @timestamp orders them.
        nanos = at.microsecond * 1000 + (997 - i * 37) % 1000
        docs.append(legacy_doc(cluster_id, message, stream, at, nanos, **fields))
    helpers.bulk(es, ({"_index": index, "_op_type": "index", **d} for d in docs), refresh="wait_for")
    return docs
