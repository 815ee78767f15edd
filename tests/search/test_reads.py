"""search/ against the real Elasticsearch: order, streams, paging, tail, windows, legacy documents."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from search import LogSearch, LogsUnavailable, Window, cursor
from search.errors import SearchRefused
from search.finder import Filters
from tests.search.helpers import BASE_NS, NS, index_legacy, index_ours, legacy_doc, our_doc

EXE = "scale_job_1x1"


def messages(lines) -> list[str]:
    """The messages of lines, or of a follow's lines (search.follow.Followed)."""
    return [getattr(line, "item", line).fields["message"] for line in lines]


@pytest.fixture
def mixed(es, log_prefix) -> list[str]:
    """Six lines of EXE in the intended order, with same-timestamp lines across interleaved streams,
    plus a line of another execution at the same instant."""
    t = BASE_NS + 123_456_789
    docs = [
        our_doc(EXE, t + 5, 6, "six", "stderr"),
        our_doc(EXE, t, 3, "three", "stdout"),
        our_doc(EXE, t, 2, "two", "stderr"),  # same timestamp: the order number decides
        our_doc(EXE, t - NS, 1, "one", "stdout"),
        our_doc(EXE, t + 1, 4, "four", "stdout"),  # one nanosecond later
        our_doc(EXE, t + 1, 5, "five", "stderr"),
        our_doc("scale_job_1x10", t, 1, "other execution"),  # a prefix-sharing cluster id must not match
    ]
    index_ours(es, log_prefix, docs)
    return ["one", "two", "three", "four", "five", "six"]


def test_exact_order_and_stream_filters(log_search, mixed):
    everything = list(log_search.stream(EXE, Window()))
    assert messages(everything) == mixed
    stdout = list(log_search.stream(EXE, Window(("stdout",))))
    assert messages(stdout) == ["one", "three", "four"]
    stderr, _ = log_search.page(EXE, Window(("stderr",)), limit=100)
    assert messages(stderr) == ["two", "five", "six"]
    first = everything[0].fields
    assert first == {
        "message": "one",
        "@timestamp": "2023-11-14T22:13:19.123456789Z",
        "scale_order_num": 1,
        "scale_task": f"{EXE}_main",
        "scale_job_exe": EXE,
        "scale_node": "node-1",
        "stream": "stdout",
    }


def test_pages_after_cursors_are_exclusive_and_complete(log_search, mixed):
    seen, after = [], None
    while True:
        lines, more = log_search.page(EXE, Window(), after, limit=4)
        seen += messages(lines)
        if not more:
            break
        after = cursor.decode(lines[-1].cursor)
    assert seen == mixed
    # After the last line: nothing more, and the stream agrees.
    assert log_search.page(EXE, Window(), after=lines[-1].key, limit=4) == ([], False)
    assert list(log_search.stream(EXE, Window(), after=lines[-1].key)) == []


def test_tail_and_time_window(log_search, mixed):
    assert messages(log_search.tail(EXE, Window(), 2)) == ["five", "six"]
    assert messages(log_search.tail(EXE, Window(("stdout",)), 2)) == ["three", "four"]
    assert messages(log_search.tail(EXE, Window(), 100)) == mixed
    t = BASE_NS + 123_456_789
    started = datetime.fromtimestamp(t // NS, UTC)  # whole second: "one" is a second earlier
    window = Window(started=started, ended=datetime.fromtimestamp((t + NS) // NS, UTC))
    assert messages(log_search.stream(EXE, window)) == mixed[1:]
    window = Window(ended=started)
    assert messages(log_search.stream(EXE, window)) == ["one"]


def test_legacy_documents_merge_in_order_with_ours(es, log_prefix, log_search):
    t = BASE_NS + 500_000_000
    index_legacy(
        es,
        log_prefix,
        [
            legacy_doc(EXE, t + 250_001, "legacy b"),  # same millisecond as "legacy a": the fraction orders them
            legacy_doc(EXE, t + 250_000, "legacy a", "stderr"),
            legacy_doc(EXE, t + 900_000_000, "legacy c"),
            legacy_doc(EXE, t + 900_000_000, "legacy c twin"),  # identical key but for the document: both kept
            legacy_doc("scale_job_9x1", t, "someone else's"),
        ],
    )
    index_ours(es, log_prefix, [our_doc(EXE, t + 400_000_000, 1, "ours in between")])
    lines = list(log_search.stream(EXE, Window()))
    assert messages(lines)[:3] == ["legacy a", "legacy b", "ours in between"]
    assert sorted(messages(lines)[3:]) == ["legacy c", "legacy c twin"]
    assert lines[0].fields["@timestamp"] == "2023-11-14T22:13:20.500250000Z"  # finer than the ms indexed, fixed width
    assert lines[0].doc_index.startswith(f"{log_prefix}-legacy-") and lines[0].doc_id  # the document it was read from
    assert lines[0].fields["scale_node"] == "legacy-node" and lines[0].fields["stream"] == "stderr"
    # Paging one line at a time over the legacy twins misses and repeats nothing.
    seen, after = [], None
    while True:
        page, more = log_search.page(EXE, Window(), after, limit=1)
        seen += messages(page)
        if not more:
            break
        after = page[-1].key
    assert seen == messages(lines)
    assert messages(log_search.stream(EXE, Window(("stderr",)))) == ["legacy a"]
    assert messages(log_search.tail(EXE, Window(), 3)) == messages(lines)[-3:]


def test_search_phrases_filters_highlights_and_hostile_text(es, log_prefix, log_search):
    t = BASE_NS
    index_ours(
        es,
        log_prefix,
        [
            our_doc(EXE, t, 1, "disk is full on /data", scale_job_id="1", scale_job_type="ingest"),
            our_doc(
                EXE,
                t + 1_000_000,
                2,
                "full disk warning <script>alert(1)</script>",
                "stderr",
                scale_job_id="1",
                scale_job_type="ingest",
            ),
            our_doc("scale_job_2x1", t + 2_000_000, 1, "the disk is full", scale_job_id="2", scale_job_type="other"),
        ],
    )
    index_legacy(es, log_prefix, [legacy_doc("scale_job_3x1", t + 3_000_000, "legacy disk is full")])

    def found(**kw):
        count, hits = log_search.search(Filters(**kw), 0, 100, newest_first=False)
        assert count == len(hits)
        return [h["message"] for h in hits], hits

    assert found(text="disk full")[0] == [
        "disk is full on /data",
        "full disk warning <script>alert(1)</script>",
        "the disk is full",
        "legacy disk is full",
    ]
    assert found(text='"disk is full"')[0] == ["disk is full on /data", "the disk is full", "legacy disk is full"]
    assert found(text='"disk is full" data')[0] == ["disk is full on /data"]
    assert found(text="disk", cluster_ids=[EXE], streams=["stderr"])[0] == [
        "full disk warning <script>alert(1)</script>"
    ]
    assert found(text="disk", job_ids=[2])[0] == ["the disk is full"]
    assert found(text="disk", job_type_names=["legacy-type"])[0] == ["legacy disk is full"]
    assert found(text="disk", nodes=["legacy-node"])[0] == ["legacy disk is full"]
    _, hits = found(text="warning")
    assert hits[0]["highlight"] == "full disk <em>warning</em> &lt;script&gt;alert(1)&lt;&#x2F;script&gt;"
    assert hits[0]["job_id"] == 1 and hits[0]["job_type"]["name"] == "ingest"
    legacy = found(text="legacy")[1][0]
    assert (legacy["job_id"], legacy["exe_num"], legacy["job_type"]) == (
        77,
        1,
        {"name": "legacy-type", "version": "1.0.0"},
    )
    # Query syntax is just text: no match-all, no regex, no error on an unbalanced quote.
    for hostile in ("*:*", "message:/.*/", "field:/.*/", 'disk" OR "*', "(", "\\", "a AND NOT b", "d?sk~", "/.*/"):
        assert found(text=hostile)[0] == [], hostile
    assert found(text='"disk')[0] == found(text="disk")[0]
    assert found(text='""')[0] == []
    with pytest.raises(SearchRefused):
        log_search.search(Filters(), 9_990, 100)


def test_unreachable_elasticsearch_raises_logs_unavailable():
    dead = LogSearch(Elasticsearch("http://127.0.0.1:9", request_timeout=2, max_retries=0), ("x-*",))
    for read in (
        lambda: dead.page(EXE, Window()),
        lambda: dead.tail(EXE, Window(), 5),
        lambda: next(dead.stream(EXE, Window())),
        lambda: dead.search(Filters(text="x"), 0, 10),
    ):
        with pytest.raises(LogsUnavailable) as caught:
            read()
        assert "unavailable" in caught.value.detail


def test_cursor_round_trip_and_rejects_forgeries():
    key = (BASE_NS, 7, "scalelogs-2023.11.14", 42)
    assert cursor.decode(cursor.encode(key)) == key
    for bad in (
        "",
        "x",
        "1",
        "1!!!",
        cursor.encode(key)[:-3],
        "1" + "W10",  # "[]"
        cursor.encode((1, 2, 3, 4)),
        cursor.encode((True, 2, "a", 4)),
    ):
        with pytest.raises(ValueError):
            cursor.decode(bad)


def test_follow_sends_late_lines_once_and_ends_after_the_grace(es, log_prefix, log_search):
    from search.reads import ENDED, IDLE

    t = BASE_NS
    index_ours(es, log_prefix, [our_doc(EXE, t + 10 * NS, 1, "A"), our_doc(EXE, t + 12 * NS, 2, "B")])
    ended = {"ago": None}
    got: list = []

    def run():
        for item in log_search.follow(EXE, Window(), None, lambda: ended["ago"], max_seconds=30):
            got.append(item)

    follower = threading.Thread(target=run)
    follower.start()
    wait_for(lambda: messages(x for x in got if x not in (IDLE,)) == ["A", "B"])
    # "C" is older than "B" but only now searchable (within the lookback); "D" is plainly new.
    index_ours(es, log_prefix, [our_doc(EXE, t + 11 * NS, 3, "C"), our_doc(EXE, t + 13 * NS, 4, "D")])
    wait_for(lambda: len([x for x in got if not isinstance(x, str)]) == 4)
    began = time.monotonic()
    ended["ago"] = 0.0
    follower.join(timeout=10)
    assert not follower.is_alive() and time.monotonic() - began >= 1.5  # waited the end grace
    lines = [x for x in got if not isinstance(x, str)]
    assert messages(lines) == ["A", "B", "C", "D"]
    assert got[-1] == ENDED
    # Resuming after B's line cursor skips C: it sorts before B. These lines carry no event.ingested (written
    # straight, as Fluentd would), so this is still the limit for them; stamped lines resume exactly
    # (test_follow_of_stamped_lines_resumes_exactly, and tests/search/test_follow_late_lines.py).
    ended["ago"] = 60.0  # long over: no grace
    resumed = [
        x
        for x in log_search.follow(EXE, Window(), lines[1].item.key, lambda: ended["ago"], 30)
        if not isinstance(x, str)
    ]
    assert messages(resumed) == ["D"]


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_follow_memory_of_sent_keys_is_bounded():
    from search.reads import _Sent

    sent = _Sent(None)
    keys = [(BASE_NS, i, "idx", i) for i in range(25_000)]  # one dense instant: time pruning can't help
    assert all(sent.add(k) for k in keys)
    assert len(sent.members) == len(sent.recent) == _Sent.MAX
    assert not any(sent.add(k) for k in keys)  # forgotten ones are at or below the floor: still "sent"
    assert sent.add((BASE_NS, 25_000, "idx", 0))
    assert sent.since(10 * NS) == BASE_NS
