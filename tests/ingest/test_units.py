"""Pure functions of the pipeline: ids, times, index names, posted-line parsing, line cutting, the spool format."""

from __future__ import annotations

import json

import pytest

from core.times import format_ns, parse_ns
from ingest.capture import cut_at_char
from ingest.documents import CapturedLine, Origin, bulk_pairs, doc_id, index_name
from ingest.receive import BadLine, parse_line
from ingest.spool import decode_records, encode_record

NS = 1_000_000_000


def test_doc_id_is_deterministic_and_distinct():
    assert doc_id("scale_job_1x1", 7) == doc_id("scale_job_1x1", 7)
    ids = {doc_id(c, n) for c in ("scale_job_1x1", "scale_job_1x1#1", "scale_job_11x1") for n in (1, 11, 111)}
    assert len(ids) == 9
    long_id = doc_id("x" * 2000, 5)
    assert long_id.endswith("#5") and len(long_id.encode()) < 512


def test_times_keep_nanoseconds_and_days_are_utc():
    t = 1_700_000_000 * NS + 123_456_789  # 2023-11-14T22:13:20.123456789Z
    assert format_ns(t) == "2023-11-14T22:13:20.123456789Z"
    assert parse_ns("2023-11-14T22:13:20.123456789Z") == t
    assert parse_ns("2023-11-15T00:13:20.123456789+02:00") == t
    assert parse_ns("2023-11-14T22:13:20Z") == 1_700_000_000 * NS
    assert index_name("scalelogs", t) == "scalelogs-2023.11.14"
    for bad in ("2023-11-14T22:13:20", "2023-13-01T00:00:00Z", "yesterday", "2023-02-30T00:00:00Z"):
        with pytest.raises(ValueError):
            parse_ns(bad)


def test_bulk_pairs_are_create_actions_with_scale_fields():
    origin = Origin(cluster_id="scale_job_3x2", node="n1", job_id="3", exe_num="2", job_type="t", host="h")
    pairs, ids = bulk_pairs("p", origin, [CapturedLine("", "stderr", 5 * NS, 9, task="t1")])
    action, source = (json.loads(x) for x in pairs[0])
    assert action == {"create": {"_index": "p-1970.01.01", "_id": "scale_job_3x2#9"}}
    assert ids == ["scale_job_3x2#9"]
    assert source == {
        "@timestamp": "1970-01-01T00:00:05.000000000Z",
        "scale_order_num": 9,
        "stream": "stderr",
        "message": "",
        "scale_job_exe": "scale_job_3x2",
        "scale_node": "n1",
        "scale_task": "t1",
        "host": "h",
        "scale_job_type": "t",
        "scale_job_id": "3",
        "scale_job_exe_num": "2",
    }


def test_parse_line_checks_every_field():
    assert parse_line(b'{"message": "hi", "stream": "stdout"}\n', 1, 100) == ["hi", "stdout", None, None, None]
    assert parse_line(b"  \n", 2, 100) is None
    full = (
        b'{"message":"m","stream":"stderr","@timestamp":"1970-01-01T00:00:01.5Z","scale_order_num":4,"scale_task":"x"}'
    )
    assert parse_line(full, 1, 100) == ["m", "stderr", 1_500_000_000, 4, "x"]
    for raw, reason in [
        (b"[1]", "not a JSON object"),
        (b"{nope", "not a JSON object"),
        (b'{"stream": "stdout"}', '"message" must be a string'),
        (b'{"message": "m", "stream": "stdin"}', '"stream"'),
        (b'{"message": "m", "stream": "stdout", "scale_order_num": 0}', '"scale_order_num"'),
        (b'{"message": "m", "stream": "stdout", "scale_order_num": true}', '"scale_order_num"'),
        (b'{"message": "m", "stream": "stdout", "@timestamp": "now"}', '"@timestamp"'),
        (b'{"message": "m", "stream": "stdout", "extra": 1}', 'unknown field "extra"'),
    ]:
        with pytest.raises(BadLine) as info:
            parse_line(raw, 7, 100)
        assert str(info.value).startswith("Line 7: ") and reason in str(info.value), raw
    with pytest.raises(BadLine) as info:
        parse_line(json.dumps({"message": "é" * 51, "stream": "stdout"}).encode(), 3, 100)
    assert info.value.too_large
    # A lone surrogate escape becomes a replacement character instead of failing later.
    assert parse_line(b'{"message": "a\\ud800b", "stream": "stdout"}', 1, 100)[0] == "a\ufffdb"


def test_cut_never_splits_a_utf8_character():
    raw = "aé€😀".encode()  # 1 + 2 + 3 + 4 bytes
    assert [cut_at_char(raw, n) for n in range(1, 10)] == [1, 1, 3, 3, 3, 6, 6, 6, 6]


def test_spool_records_stop_at_a_torn_or_corrupt_record():
    data = encode_record(b"one") + encode_record(b"two")
    assert decode_records(data) == ([b"one", b"two"], 0)
    torn = data + encode_record(b"three")[:-2]
    assert decode_records(torn) == ([b"one", b"two"], len(encode_record(b"three")) - 2)
    flipped = bytearray(data)
    flipped[-1] ^= 1
    assert decode_records(bytes(flipped))[0] == [b"one"]
    assert decode_records(data + b"\0" * 5) == ([b"one", b"two"], 5)
