"""What the log routes accept and answer, declared once for parsing and for the OpenAPI document:
query parameters, the line and search-hit schemas, shared responses."""

from __future__ import annotations

from api.pagination import PAGE_PARAMS
from api.params import Param
from api.routing import json_response
from api.schemas import ERROR, component
from jobs.statuses import ERROR_CATEGORIES, JOB_STATUSES

LINE = component(
    "LogLine",
    {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "@timestamp": {"type": "string", "format": "date-time"},
            "scale_order_num": {"type": ["integer", "null"]},
            "scale_task": {"type": ["string", "null"]},
            "scale_job_exe": {"type": ["string", "null"]},
            "scale_node": {"type": ["string", "null"]},
            "stream": {"type": ["string", "null"]},
            "anchor": {"type": "boolean", "description": "Only on the anchor line of an `around` answer: true"},
        },
    },
)
HIT = component(
    "LogSearchHit",
    {
        "allOf": [
            LINE,
            {
                "type": "object",
                "properties": {
                    "job_id": {"type": ["integer", "string", "null"]},
                    "exe_num": {"type": ["integer", "string", "null"]},
                    "job_type": {
                        "type": "object",
                        "properties": {"name": {"type": ["string", "null"]}, "version": {"type": ["string", "null"]}},
                    },
                    "job_status": {
                        "type": ["string", "null"],
                        "description": "The job's status now (from the database); null for an unknown execution",
                    },
                    "error_category": {
                        "type": ["string", "null"],
                        "description": "The category of the job's error (from the database), or null",
                    },
                    "highlight": {
                        "type": ["string", "null"],
                        "description": "HTML-escaped fragment with <em> around matches",
                    },
                    "context_url": {
                        "type": ["string", "null"],
                        "description": "The 20 lines before and after this one in its execution's combined log "
                        "(around=scale_order_num&context=20); null for a line of an execution unknown here",
                    },
                    "viewer_url": {
                        "type": ["string", "null"],
                        "description": "The log viewer opened at this line (/logs/{exe_id}?around=scale_order_num)",
                    },
                },
            },
        ]
    },
)
LINES = {"type": "array", "items": LINE}
# Scale's log JSON: the body of an Elasticsearch search, each line a hit. Only the keys written here.
LOG_HIT = component(
    "LogHit",
    {
        "type": "object",
        "properties": {
            "_index": {"type": ["string", "null"]},
            "_id": {"type": ["string", "null"]},
            "_score": {"type": "null"},
            "_source": LINE,
            "sort": {"type": "array", "description": "The line's sort values (time in nanoseconds, order number, ...)"},
        },
        "required": ["_index", "_id", "_score", "_source", "sort"],
    },
)
LOG_SEARCH_RESPONSE = component(
    "LogSearchResponse",
    {
        "type": "object",
        "description": "As Scale served it: Elasticsearch's search response. hits.total is the number of hits in "
        "the body; it follows hits.hits, and took (milliseconds) comes last.",
        "properties": {
            "took": {"type": "integer", "minimum": 0},
            "timed_out": {"type": "boolean"},
            "hits": {
                "type": "object",
                "properties": {
                    "total": {"type": "integer", "minimum": 0},
                    "max_score": {"type": "null"},
                    "hits": {"type": "array", "items": LOG_HIT},
                },
                "required": ["total", "max_score", "hits"],
            },
        },
        "required": ["took", "timed_out", "hits"],
    },
)
# format=json (or JSON by Accept) answers the search response; format=array the plain array of lines.
JSON_BODY = {"oneOf": [LOG_SEARCH_RESPONSE, {**LINES, "description": "format=array: the lines as a JSON array"}]}
TEXT = {"type": "string"}
ERROR_503 = json_response(ERROR, "Elasticsearch is unavailable")
ERROR_429 = json_response(
    ERROR,
    "Too many follows, whole-log streams and exports open (per client or on this server)",
    headers=("Retry-After",),
)
ERROR_410 = json_response(
    ERROR, "The execution's log lines expired: it is older than the retention window (LOG_RETENTION_DAYS)"
)

WINDOW_PARAMS = (
    Param("started", "timestamp", description="Lines at or after this time (ISO-8601 or a duration ago)."),
    Param("ended", "timestamp", description="Lines at or before this time."),
)
READ_PARAMS = (
    Param(
        "format",
        "choice",
        choices=("json", "array", "txt", "html", "ndjson"),
        description="Response format; overrides Accept (which may also ask for text/event-stream). json: Scale's "
        "body, an Elasticsearch search response with each line in hits.hits[]._source (also the default and what "
        "Accept: application/json gets); array: a plain JSON array of the lines; txt: the messages, one a line; "
        "html: a page; ndjson: one line object a line.",
    ),
    Param("limit", "integer", minimum=1, description="At most this many lines (1-10000); without it, the whole log."),
    Param("after", description="Opaque cursor: start strictly after the line it names (X-Next-Cursor, SSE id)."),
    Param("tail", "integer", minimum=1, description="Only the last N lines (1-10000), oldest first."),
    Param("follow", "boolean", description="Keep streaming new lines until the execution ends (SSE or NDJSON)."),
) + WINDOW_PARAMS
SEARCH_TEXT = Param("q", description='Words that must all appear; "quoted words" must appear as a phrase.')
REGEX_PARAM = Param(
    "regex",
    description="Lines matching this regular expression: Lucene's RegExp syntax without optional operators (. ? + "
    '* | {n,m} ( ) [ ] [^ ] \\ escapes, "quoted literals"), case-sensitive, over the WHOLE line (write .*word.* '
    "to find a word anywhere). It needs a literal of 3+ characters that every match contains (else 400: it would "
    "check every line). Lines longer than 8,191 characters (256 in legacy Scale indices) and lines of our "
    "indices made before mapping version 2 never match.",
)
# The job's facts: its type's version is on every line; its status and error category are in the database.
JOB_FACT_PARAMS = (
    Param("job_type_version", many=True, description="Lines of this job type version (any of them when repeated)."),
    Param(
        "status",
        "choice",
        many=True,
        choices=JOB_STATUSES,
        description="Lines of executions whose job has this status now (in the database, not when the line was "
        "written); any of them when repeated.",
    ),
    Param(
        "error_category",
        "choice",
        many=True,
        choices=ERROR_CATEGORIES,
        description="Lines of executions whose job's error (in the database) has this category.",
    ),
)
SEARCH_PARAMS = (
    (
        SEARCH_TEXT,
        REGEX_PARAM,
        Param("job_id", "integer", many=True, minimum=1),
        Param("job_exe_id", "integer", many=True, minimum=1),
        Param("job_type_name", many=True),
        *JOB_FACT_PARAMS,
        Param("stream", "choice", many=True, choices=("stdout", "stderr")),
        Param("node", many=True),
        Param("order", "choice", choices=("timestamp", "-timestamp"), description="Default -timestamp (newest first)."),
    )
    + WINDOW_PARAMS
    + PAGE_PARAMS
)
JOB_LOG_PARAMS = (
    (
        SEARCH_TEXT,
        REGEX_PARAM,
        Param("exe_num", "integer", many=True, minimum=1),
        Param("job_exe_id", "integer", many=True, minimum=1),
        Param("job_type_name", many=True),
        *JOB_FACT_PARAMS,
        Param("stream", "choice", many=True, choices=("stdout", "stderr")),
        Param("node", many=True),
        Param("order", "choice", choices=("timestamp", "-timestamp"), description="Default timestamp (oldest first)."),
    )
    + WINDOW_PARAMS
    + PAGE_PARAMS
)
