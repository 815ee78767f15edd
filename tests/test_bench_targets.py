"""bench/__main__.py's Performance III targets on the log_scaling curve, judged on curves made by hand: a flat
curve meets every one, and each way a curve can grow (a page slower deep in a big log, a whole read slower per
line, ours slower than bare at one size) misses exactly the target about it."""

from __future__ import annotations

import copy

from bench.__main__ import TARGETS, scaling_targets


def point(lines: int, page_ms: float, bare_ms: float, rate: int, ratio: float) -> dict:
    pages = {"ours": {"p50_ms": page_ms}, "raw": {"p50_ms": bare_ms}}
    return {
        "lines": lines,
        "first_1000": copy.deepcopy(pages),
        "tail_100": copy.deepcopy(pages),
        "whole": {"json_lines_per_s": rate, "json": {"ratio": ratio}},
    }


FLAT = {str(n): point(n, 10.0, 9.0, 50_000, 0.95) for n in (10_000, 100_000, 1_000_000, 10_000_000)}


def missed(sizes: dict) -> set[str]:
    return {name for name, fig in scaling_targets(sizes).items() if not fig["met"]}


def test_a_flat_curve_meets_every_scaling_target_and_each_is_listed_for_a_run_that_fails():
    judged = scaling_targets(FLAT)
    assert len(judged) == 6 and all(fig["met"] for fig in judged.values())
    assert set(judged) <= set(TARGETS)  # a measure that errors reports each of them missed, not absent


def test_a_tail_slower_at_10m_than_at_100k_misses_only_the_flatness_of_the_tail():
    sizes = copy.deepcopy(FLAT)
    sizes["10000000"]["tail_100"]["ours"]["p50_ms"] = 16.0  # 1.6x the 100k tail, but within 1.5x bare + 5 ms
    assert missed(sizes) == {"scaling_tail_100_largest_p50_le_1.5x_at_100k"}
    sizes["10000000"]["tail_100"]["raw"]["p50_ms"] = 5.0  # now also over 1.5 x 5 + 5 = 12.5 ms
    assert missed(sizes) == {
        "scaling_tail_100_largest_p50_le_1.5x_at_100k",
        "scaling_tail_100_largest_p50_le_1.5x_bare_plus_5ms",
    }


def test_a_whole_read_slower_per_line_at_10m_or_behind_bare_at_one_size_misses_its_target():
    sizes = copy.deepcopy(FLAT)
    sizes["10000000"]["whole"]["json_lines_per_s"] = 39_000  # 0.78x the 1M rate
    assert missed(sizes) == {"scaling_whole_read_largest_ge_0.8x_at_1m"}
    sizes = copy.deepcopy(FLAT)
    sizes["10000"]["whole"]["json"]["ratio"] = 0.89
    assert missed(sizes) == {"scaling_whole_read_ge_0.9x_bare_every_size"}


def test_a_quick_curve_is_judged_against_its_own_smallest_and_next_to_largest_sizes():
    sizes = {str(n): point(n, 10.0, 9.0, 50_000, 0.95) for n in (1_000, 10_000, 30_000)}
    judged = scaling_targets(sizes)
    assert judged["scaling_first_1000_largest_p50_le_1.5x_at_100k"]["lines"] == [30_000, 1_000]
    assert judged["scaling_whole_read_largest_ge_0.8x_at_1m"]["lines"] == [30_000, 10_000]
    assert scaling_targets({"1000": sizes["1000"]}) == {}
