"""Time in one place: the injectable clock, and every conversion between datetimes, epoch nanoseconds and the
ISO-8601 texts the service reads and writes.

Three texts go out: Scale's datetimes (`format_datetime`: `Z`, microseconds only when non-zero), log line
times with exactly nine fraction digits (`format_ns`: fixed width, as date_nanos stores them and as Scale's UI
sorts them as strings) and with as few digits as the value needs (`format_ns_short`). Two come in: request
parameters (`parse_instant`: a datetime with a zone, or a duration meaning "that long ago") and RFC 3339 times
of log lines (`parse_ns`, nanoseconds kept).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import cast

import isodate

Clock = Callable[[], datetime]
NS = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The range of Elasticsearch's date_nanos (1970 to 2262), so every parsed time can be stored.
FIRST_YEAR, LAST_YEAR = 1970, 2261

# A duration limited to days, hours, minutes and seconds, e.g. PT3H0M0S or P1DT12H.
_DURATION = re.compile(r"^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|z|[+-]\d\d:?\d\d)\Z")


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_datetime(value: datetime | None) -> str | None:
    """ISO-8601 UTC with Z; microseconds only when non-zero (isoformat's own rule, and much cheaper than strftime)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat()[:-6] + "Z"  # drops "+00:00"


def ns_of(moment: datetime) -> int:
    """Epoch nanoseconds of an aware datetime (exact to the microsecond)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1_000


def format_ns(ns: int) -> str:
    """RFC 3339 UTC with all nine fraction digits: one width for every time (Elasticsearch also reads a missing
    fraction in a range's "lte" as the end of that second)."""
    seconds, fraction = divmod(ns, NS)
    return f"{_seconds_text(seconds)}.{fraction:09d}Z"


def format_ns_short(ns: int) -> str:
    """ISO-8601 UTC with 0, 3, 6 or 9 fraction digits, as few as the value needs."""
    seconds, fraction = divmod(ns, NS)
    text = _seconds_text(seconds)
    if fraction:
        digits = f"{fraction:09d}"
        while digits.endswith("000"):
            digits = digits[:-3]
        text += "." + digits
    return text + "Z"


@lru_cache(maxsize=256)  # consecutive log lines mostly share their second
def _seconds_text(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_ns(text: str) -> int:
    """An RFC 3339 time with a zone, to nanoseconds since the epoch (all nine fraction digits kept).

    ValueError unless it is a real calendar time within date_nanos' range.
    """
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(text)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = int((m.group(7) or "").ljust(9, "0"))
    zone = m.group(8)
    offset = 0
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    if not (
        1 <= month <= 12
        and 1 <= day <= calendar.monthrange(year, month)[1]
        and hour < 24
        and minute < 60
        and second < 60
        and FIRST_YEAR <= year <= LAST_YEAR
    ):
        raise ValueError(text)
    return (calendar.timegm((year, month, day, hour, minute, second)) - offset) * NS + fraction


def parse_instant(text: str, now: datetime) -> datetime:
    """A request's time: an ISO-8601 datetime that carries a zone, or a duration (days to seconds) meaning
    `now` minus that much. Always UTC; ValueError for anything else."""
    try:
        if text.startswith("P"):
            if not _DURATION.match(text):
                raise ValueError(text)
            return now - cast(timedelta, isodate.parse_duration(text))
        if "T" not in text:
            raise ValueError(text)
        value: datetime = isodate.parse_datetime(text)
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(text)
        # Converting can leave the calendar (0001-01-01T00:00:00+05:00): that is a bad value too.
        return value.astimezone(UTC)
    except (isodate.ISO8601Error, OverflowError, TypeError) as exc:
        raise ValueError(text) from exc
