"""The kubelet's CRI log files read as lines with their streams: partial records joined, and a checkpoint that
gives the same lines with the same numbers when read again from it (so a restart repeats no document)."""

from __future__ import annotations

from ingest.cri_logs import Tail, parse_time_ns

T = "2026-12-07T12:00:00.123456789Z"


def record(stream: str, tag: str, text: str, time: str = T) -> bytes:
    return f"{time} {stream} {tag} {text}\n".encode()


def test_times_keep_nanoseconds_and_offsets():
    assert parse_time_ns("2026-12-07T12:00:00.123456789Z") % 10**9 == 123456789
    assert parse_time_ns("2026-12-07T12:00:00.5Z") % 10**9 == 500_000_000
    assert parse_time_ns("2026-12-07T13:00:00+01:00") == parse_time_ns("2026-12-07T12:00:00Z")


def test_partial_records_are_joined_per_stream_and_streams_kept(tmp_path):
    path = tmp_path / "0.log"
    path.write_bytes(
        record("stdout", "P", "hello ")
        + record("stderr", "F", "oops")
        + record("stdout", "F", "world")
        + record("stdout", "F", "")
        + b"garbage that is no record\n"
    )
    lines = Tail(str(path)).read()
    assert [(x.stream, x.message, x.order) for x in lines] == [
        ("stderr", b"oops", 1),
        ("stdout", b"hello world", 2),
        ("stdout", b"", 3),
    ]


def test_a_checkpoint_never_splits_a_line_and_rereads_the_same_numbers(tmp_path):
    path = tmp_path / "0.log"
    path.write_bytes(record("stdout", "F", "one") + record("stdout", "P", "two "))
    tail = Tail(str(path))
    assert [x.message for x in tail.read()] == [b"one"]
    checkpoint = (tail.offset, tail.lines)
    assert checkpoint == (len(record("stdout", "F", "one")), 1)  # before the unfinished line's first piece
    with open(path, "ab") as f:
        f.write(record("stderr", "F", "err") + record("stdout", "F", "halves") + b"2026-12-07T12:00")
    later = tail.read()
    assert [(x.message, x.order) for x in later] == [(b"err", 2), (b"two halves", 3)]
    # Read again from the checkpoint taken while "two " was in pieces: the same lines, the same numbers.
    again = Tail(str(path), *checkpoint).read()
    assert [(x.stream, x.message, x.order) for x in again] == [(x.stream, x.message, x.order) for x in later]
    # A record still being written (no newline yet) is not a line.
    assert tail.read() == []
    with open(path, "ab") as f:
        f.write(b":01Z stdout F last\n")
    assert [(x.message, x.order) for x in tail.read()] == [(b"last", 4)]
    assert tail.offset == path.stat().st_size and tail.lines == 4


def test_a_missing_file_reads_nothing(tmp_path):
    assert Tail(str(tmp_path / "gone.log")).read() == []


def test_a_last_line_without_newline_is_whole_once_the_container_ended(tmp_path):
    path = tmp_path / "0.log"
    # containerd writes a last line with no newline as a partial record no other record finishes.
    path.write_bytes(record("stdout", "F", "one") + record("stderr", "P", "no newline ") + record("stderr", "P", "end"))
    tail = Tail(str(path))
    assert [x.message for x in tail.read()] == [b"one"] and tail.in_pieces
    assert [(x.stream, x.message, x.order) for x in tail.finish()] == [("stderr", b"no newline end", 2)]
    assert (tail.offset, tail.lines) == (path.stat().st_size, 2) and not tail.in_pieces


def test_a_rotated_file_is_read_to_its_end_then_the_new_one_with_numbers_going_on(tmp_path):
    path = tmp_path / "0.log"
    path.write_bytes(record("stdout", "F", "one"))
    tail = Tail(str(path))
    assert [x.message for x in tail.read()] == [b"one"]
    before_rotation = (tail.offset, tail.lines, tail.inode)
    # The kubelet renames the full file; the runtime writes a last record into it, then starts a new one.
    rotated = tmp_path / "0.log.20261207-120000"
    path.rename(rotated)
    with open(rotated, "ab") as f:
        f.write(record("stderr", "F", "two"))
    path.write_bytes(record("stdout", "F", "three"))
    assert [(x.message, x.order) for x in tail.read()] == [(b"two", 2)]
    assert [(x.message, x.order) for x in tail.read()] == [(b"three", 3)]
    assert (tail.offset, tail.lines, tail.inode) == (path.stat().st_size, 3, path.stat().st_ino)
    tail.close()
    # Restarted from the checkpoint of before the rotation: the renamed file is found by its inode.
    again = Tail(str(path), *before_rotation)
    assert [(x.message, x.order) for x in again.read() + again.read()] == [(b"two", 2), (b"three", 3)]
    again.close()
