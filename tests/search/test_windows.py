"""search.windows against the real Elasticsearch: reads bounded to time windows give exactly the unbounded order.

The reader here bounds every read (Windowing small=0: even a short log's tail goes through its count and bound),
and its windows grow by 2 so that a log of a hundred lines takes every branch: windows that fill the page, windows
that don't (gaps in the order numbers, a stream filter, legacy lines numbered by their nanosecond fraction),
numbers that run against time, and the unbounded search after the last window. The expected order is computed
here from the documents written, not read back.
"""

from __future__ import annotations

import pytest

from search import LogSearch, Window
from search.windows import Windowing
from tests.search.helpers import BASE_NS, NS, index_legacy, index_ours, legacy_doc, our_doc

EXE = "scale_job_5x1"
OTHER = "scale_job_5x10"
MS = 1_000_000
DAY = 86_400 * NS


@pytest.fixture
def windowed(service_es, log_prefix) -> LogSearch:
    return LogSearch(
        service_es,
        (f"{log_prefix}-*", f"{log_prefix}-legacy-*"),
        windowing=Windowing(small=0, span=2, growth=2, tries=3),
    )


def _written(es, prefix) -> list[tuple[tuple[int, int], str, str]]:
    """Writes EXE's lines (and another execution's) and returns EXE's (sort key, stream, message)."""
    t = BASE_NS + 123 * MS
    ours, legacy, expected = [], [], []

    def add(ns: int, order: int, message: str, stream: str) -> None:
        ours.append(our_doc(EXE, ns, order, message, stream))
        ours.append(our_doc(OTHER, ns, order, f"other {message}", stream))  # same times and numbers, not ours
        expected.append(((ns, order), stream, message))

    for i in range(30):  # numbered 1..30 in time order
        add(t + i * MS, i + 1, f"a{i}", "stderr" if i % 3 == 0 else "stdout")
    for i in range(30, 60):  # numbered against time: 1029 first, 1000 last
        add(t + i * MS, 1000 + 59 - i, f"b{i}", "stdout")
    for i in range(5):  # numbered right after the first block, but a second later: a wide first window
        add(t + NS + i, 31 + i, f"late{i}", "stderr")
    for i in range(60, 90):  # next day's index, sparse numbers
        add(t + DAY + i * MS, 5000 + 10 * i, f"c{i}", "stderr" if i % 2 else "stdout")
    for i, at in enumerate((t + 5 * MS + 500_123, t + 45 * MS + 250_000, t + 45 * MS + 250_001, t + DAY + 61 * MS)):
        # Scale's own lines: indexed in milliseconds, numbered by their nanosecond fraction.
        legacy.append(legacy_doc(EXE, at, f"legacy{i}", "stderr" if i == 1 else "stdout"))
        expected.append(((at - at % MS, at % NS), "stderr" if i == 1 else "stdout", f"legacy{i}"))
    index_ours(es, prefix, ours)
    index_legacy(es, prefix, legacy)
    return sorted(expected)


@pytest.fixture
def written(es, log_prefix):
    return _written(es, log_prefix)


def _messages(lines) -> list[str]:
    return [line.fields["message"] for line in lines]


def _expected(written, streams) -> list[str]:
    return [message for _key, stream, message in written if streams is None or stream in streams]


@pytest.mark.parametrize("streams", [None, ("stdout",), ("stderr",)])
def test_bounded_tail_is_the_last_lines_in_order(windowed, written, streams):
    expected = _expected(written, streams)
    for count in (1, 2, 7, 20, len(expected) - 1, len(expected), len(expected) + 5):
        assert _messages(windowed.tail(EXE, Window(streams), count)) == expected[-count:], count


@pytest.mark.parametrize("streams", [None, ("stdout",), ("stderr",)])
def test_bounded_pages_after_cursors_read_every_line_once_in_order(windowed, written, streams):
    expected = _expected(written, streams)
    for limit in (1, 3, 10, 40):
        seen, after, pages = [], None, 0
        while True:
            lines, more = windowed.page(EXE, Window(streams), after, limit)
            seen += _messages(lines)
            pages += 1
            assert len(lines) == limit or not more
            if not more:
                break
            after = lines[-1].key
        assert seen == expected, limit
        assert pages == max(1, -(-len(expected) // limit))
        assert windowed.page(EXE, Window(streams), lines[-1].key, limit) == ([], False)


def test_bounded_stream_and_scan_read_the_whole_log_in_order(windowed, written):
    assert _messages(windowed.stream(EXE, Window())) == _expected(written, None)
    # From a cursor in the middle (a legacy line), on to the end.
    key_of = {message: key for key, _stream, message in written}
    middle = next(line for line in list(windowed.stream(EXE, Window())) if line.fields["message"] == "legacy1")
    assert middle.key[:2] == key_of["legacy1"]
    expected = _expected(written, None)
    assert _messages(windowed.stream(EXE, Window(), middle.key)) == expected[expected.index("legacy1") + 1 :]
    since = written[0][0][0] + NS  # the late lines and the next day's
    assert _messages(windowed.scan(EXE, Window(), since)) == [m for k, _s, m in written if k[0] >= since]


def test_bounded_reads_cross_chunks_of_a_long_log(es, log_prefix, windowed):
    """More lines than one chunk of a stream (2,000): every chunk after the first is a bounded read."""
    t = BASE_NS + DAY * 3
    docs = [our_doc(EXE, t + i * 1_000, i + 1, f"line {i}", "stderr" if i % 4 == 0 else "stdout") for i in range(4_500)]
    index_ours(es, log_prefix, docs)
    assert _messages(windowed.stream(EXE, Window())) == [d["message"] for d in docs]
    assert _messages(windowed.stream(EXE, Window(("stderr",)))) == [
        d["message"] for d in docs if d["stream"] == "stderr"
    ]
    assert _messages(windowed.tail(EXE, Window(), 2_500)) == [d["message"] for d in docs[-2_500:]]
    half, more = windowed.page(EXE, Window(), windowed.tail(EXE, Window(), 2_251)[0].key, 3_000)
    assert _messages(half) == [d["message"] for d in docs[-2_250:]] and not more


def test_default_reader_agrees_with_the_bounded_one(log_search, windowed, written):
    """The app's reader (plain tail below Windowing.small lines) and the always-bounded one read the same."""
    for streams in (None, ("stderr",)):
        w = Window(streams)
        assert _messages(log_search.stream(EXE, w)) == _messages(windowed.stream(EXE, w))
        assert _messages(log_search.tail(EXE, w, 9)) == _messages(windowed.tail(EXE, w, 9))


def test_a_line_without_timestamp_comes_last_as_in_an_unbounded_read(es, log_prefix, windowed, written):
    """Range queries never match a document without @timestamp; the sort puts it after every dated line."""
    undated = legacy_doc(EXE, BASE_NS, "undated")
    del undated["@timestamp"]
    es.index(index=f"{log_prefix}-legacy-2019.01.01", document=undated, refresh=True)
    expected = _expected(written, None) + ["undated"]
    assert _messages(windowed.stream(EXE, Window())) == expected
    seen, after = [], None
    while True:
        lines, more = windowed.page(EXE, Window(), after, 7)
        seen += _messages(lines)
        if not more:
            break
        after = lines[-1].key
    assert seen == expected
    # After the undated line (its time sorts as the largest there is) nothing follows, and nothing fails.
    assert windowed.page(EXE, Window(), lines[-1].key, 7) == ([], False)
    assert list(windowed.stream(EXE, Window(), lines[-1].key)) == []
