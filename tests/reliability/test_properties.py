"""Hypothesis properties of the parsers user input goes through: timestamps and durations (api/params.py),
the job list's `order` (api/jobs/job_routes.py), and NDJSON log lines (ingest/receive.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import falcon
import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from api.app import write_json
from api.jobs.job_routes import parse_order
from api.params import parse_timestamp
from core.times import format_datetime, format_ns, parse_ns
from ingest.receive import INT64_MAX, BadLine, parse_line
from jobs.orderings import JOB_ORDER_FIELDS
from tests.reliability.seed import seed_jobs

# Shippers of apps built by earlier tests retry with random jitter in background threads; hypothesis sees the
# global random state move and warns. It does not affect these properties.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MESSAGE = "Invalid ISO timestamp format for parameter: started"
# Offsets whole minutes within a day, as ISO-8601 can write them.
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=offsets)


def prop_settings(sized, short=200, long=3000):
    return hsettings(
        max_examples=sized(short, long),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def outcome(raw: str):
    """parse_timestamp's answer: a datetime or a 400 with Scale's message; any other exception escapes."""
    try:
        return parse_timestamp("started", raw, NOW)
    except falcon.HTTPBadRequest as exc:
        assert exc.description == MESSAGE
        return None


# --- timestamps and durations ---------------------------------------------------------------------------


def test_any_aware_datetime_round_trips_to_the_same_instant_in_utc(sized):
    @prop_settings(sized)
    @given(
        moment=aware,
        sep=st.sampled_from(["T"]),
        timespec=st.sampled_from(["seconds", "milliseconds", "microseconds", "auto"]),
    )
    def prop(moment, sep, timespec):
        text = moment.isoformat(sep=sep, timespec=timespec)
        got = outcome(text)
        # An instant that UTC cannot hold (year 1 east of Greenwich, year 9999 west of it) is refused, not a 500.
        try:
            expected = moment.astimezone(UTC)
        except OverflowError:
            assert got is None, text
            return
        if timespec in ("seconds",):
            expected = expected.replace(microsecond=0)
        elif timespec == "milliseconds":
            expected = expected.replace(microsecond=expected.microsecond // 1000 * 1000)
        assert got == expected and got.utcoffset() == timedelta(0), text

    prop()


def test_json_bodies_write_every_datetime_as_format_datetime_does(sized):
    # Job bodies hand datetimes to the app's JSON handler (orjson) instead of formatting them one by one; the
    # text must stay Scale's (Z, microseconds only when non-zero), on the fast path and on the fallback alike.
    @prop_settings(sized)
    @given(moment=st.datetimes(min_value=datetime(1, 1, 1), timezones=st.just(UTC)))
    def prop(moment):
        expected = format_datetime(moment)
        assert json.loads(write_json({"t": moment})) == {"t": expected}
        assert json.loads(write_json({"t": moment, "big": 2**70})) == {"t": expected, "big": 2**70}

    prop()


def test_a_datetime_without_zone_is_refused(sized):
    @prop_settings(sized)
    @given(moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    def prop(moment):
        assert outcome(moment.isoformat()) is None

    prop()


def test_durations_mean_now_minus_that_much(sized):
    @prop_settings(sized)
    @given(
        days=st.none() | st.integers(0, 3650),
        hours=st.none() | st.integers(0, 1000),
        minutes=st.none() | st.integers(0, 100_000),
        seconds=st.none() | st.integers(0, 10**7),
        fraction=st.none() | st.integers(0, 999),
    )
    def prop(days, hours, minutes, seconds, fraction):
        assume(any(v is not None for v in (days, hours, minutes, seconds)))
        text = "P" + (f"{days}D" if days is not None else "")
        time_part = (f"{hours}H" if hours is not None else "") + (f"{minutes}M" if minutes is not None else "")
        if seconds is not None:
            time_part += f"{seconds}" + (f".{fraction:03d}" if fraction is not None else "") + "S"
        if time_part:
            text += "T" + time_part
        delta = timedelta(
            days=days or 0,
            hours=hours or 0,
            minutes=minutes or 0,
            seconds=seconds or 0,
            milliseconds=(fraction or 0) if seconds is not None else 0,
        )
        assert outcome(text) == NOW - delta, text

    prop()


def test_any_text_is_a_timestamp_or_a_400_never_an_error(sized):
    alphabet = st.sampled_from(list("0123456789PTWYMDHSZz+-:.,/ ") + ["\x00", "é", "\u2212"])

    @prop_settings(sized, 500, 5000)
    @given(text=st.text(alphabet, max_size=40) | st.text(max_size=40))
    def prop(text):
        got = outcome(text)
        assert got is None or (isinstance(got, datetime) and got.utcoffset() == timedelta(0))

    prop()


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_edge_of_the_calendar_is_a_400_not_a_500(text):
    """Found by the round-trip property: the UTC conversion overflows outside the try in parse_timestamp."""
    assert outcome(text) is None


# --- the job list's order -----------------------------------------------------------------------------------

FIELDS = sorted(JOB_ORDER_FIELDS)


def test_every_order_field_in_either_direction_is_accepted(sized):
    @prop_settings(sized)
    @given(keys=st.lists(st.tuples(st.sampled_from(FIELDS), st.booleans()), max_size=6))
    def prop(keys):
        parsed = parse_order([("-" if desc else "") + name for name, desc in keys])
        assert [(k.field, k.descending) for k in parsed] == keys

    prop()


def test_anything_else_in_order_is_a_400_naming_the_field(sized):
    @prop_settings(sized, 300, 3000)
    @given(value=st.text(max_size=30))
    def prop(value):
        name = value[1:] if value.startswith("-") else value
        assume(name not in JOB_ORDER_FIELDS)
        with pytest.raises(falcon.HTTPBadRequest) as caught:
            parse_order([value])
        assert caught.value.description == f'Invalid order field: "{name}"'

    prop()


def test_any_order_lists_every_job_once_on_the_real_database(make_client, stores, sized):
    """The SQL built for any combination of order fields runs (SQLite and PostgreSQL) and pages exactly."""
    seeded = seed_jobs(stores, types=2, jobs=7, running=2, finished=2)
    client = make_client()

    @prop_settings(sized, 40, 400)
    @given(keys=st.lists(st.tuples(st.sampled_from(FIELDS), st.booleans()), min_size=1, max_size=3))
    def prop(keys):
        query = "&".join(f"order={'-' if desc else ''}{name}" for name, desc in keys)
        ids = []
        for page in (1, 2, 3):
            r = client.simulate_get(f"/v6/jobs/?{query}&page_size=3&page={page}")
            assert r.status_code == 200, (query, r.text)
            ids += [job["id"] for job in r.json["results"]]
        assert sorted(ids) == sorted(seeded.job_ids), query

    prop()


# --- NDJSON log lines ---------------------------------------------------------------------------------------


def rfc3339(moment: datetime, digits: int, nanos: int, zone: str) -> str:
    fraction = f".{nanos:09d}"[: digits + 1] if digits else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone


zones = st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00", "+0100", "-1200"])


def zone_seconds(zone: str) -> int:
    if zone in ("Z", "z"):
        return 0
    digits = zone[1:].replace(":", "")
    return (-1 if zone[0] == "-" else 1) * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)


def test_timestamps_keep_all_nine_digits(sized):
    @prop_settings(sized, 300, 5000)
    @given(
        moment=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2261, 12, 31)),
        digits=st.integers(0, 9),
        nanos=st.integers(0, 999_999_999),
        zone=zones,
    )
    def prop(moment, digits, nanos, zone):
        text = rfc3339(moment, digits, nanos, zone)
        kept = int(f"{nanos:09d}"[:digits].ljust(9, "0")) if digits else 0
        whole = int(moment.replace(tzinfo=UTC, microsecond=0).timestamp()) - zone_seconds(zone)
        assert parse_ns(text) == whole * 1_000_000_000 + kept, text

    prop()


def test_format_time_and_parse_time_are_inverse(sized):
    @prop_settings(sized, 300, 5000)
    @given(ns=st.integers(0, 9_214_646_399 * 1_000_000_000))  # up to the end of 2261 (date_nanos)
    def prop(ns):
        assert parse_ns(format_ns(ns)) == ns

    prop()


valid_line = st.fixed_dictionaries(
    {"message": st.text(max_size=200), "stream": st.sampled_from(["stdout", "stderr"])},
    optional={
        "scale_order_num": st.integers(1, INT64_MAX),
        "scale_task": st.text(max_size=30),
        "@timestamp": st.builds(
            lambda m, d, n, z: rfc3339(m, d, n, z),
            st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2261, 12, 31)),
            st.integers(0, 9),
            st.integers(0, 999_999_999),
            zones,
        ),
    },
)


def test_valid_lines_parse_to_exactly_what_was_sent(sized):
    @prop_settings(sized, 300, 5000)
    @given(item=valid_line, ascii_only=st.booleans(), newline=st.sampled_from([b"", b"\n", b"\r\n"]))
    def prop(item, ascii_only, newline):
        raw = json.dumps(item, ensure_ascii=ascii_only).encode() + newline
        message, stream, time_ns, order, task = parse_line(raw, 1, 1024 * 1024)
        assert message == item["message"] and stream == item["stream"]
        assert order == item.get("scale_order_num") and task == item.get("scale_task")
        assert time_ns == (parse_ns(item["@timestamp"]) if "@timestamp" in item else None)

    prop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)


def test_any_json_or_bytes_is_a_line_a_blank_or_a_bad_line(sized):
    """Never another exception: a bad line must become a 400 (or 413), not a 500."""
    line_like = st.dictionaries(
        st.sampled_from(["message", "stream", "@timestamp", "scale_order_num", "scale_task", "other"]),
        json_values,
        max_size=6,
    )

    @prop_settings(sized, 500, 8000)
    @given(
        raw=st.binary(max_size=200)
        | json_values.map(lambda v: json.dumps(v).encode())
        | line_like.map(lambda v: json.dumps(v).encode())
    )
    def prop(raw):
        try:
            parsed = parse_line(raw, 7, 64)
        except BadLine as exc:
            assert exc.line == 7 and str(exc).startswith("Line 7: ")
            return
        assert parsed is None or (isinstance(parsed[0], str) and parsed[1] in ("stdout", "stderr"))

    prop()


def test_a_message_over_the_limit_is_too_large_and_none_under_it(sized):
    @prop_settings(sized)
    @given(message=st.text(min_size=1, max_size=100), limit=st.integers(0, 400), ascii_only=st.booleans())
    def prop(message, limit, ascii_only):
        raw = json.dumps({"message": message, "stream": "stdout"}, ensure_ascii=ascii_only).encode()
        size = len(message.encode())  # the limit counts UTF-8 bytes of the message, not of its JSON
        try:
            parse_line(raw, 1, limit)
            assert size <= limit
        except BadLine as exc:
            assert exc.too_large and size > limit

    prop()


def test_a_lone_surrogate_escape_becomes_a_replacement_character():
    assert parse_line(b'{"message": "a\\ud800b", "stream": "stdout"}', 1, 100)[0] == "a\ufffdb"
