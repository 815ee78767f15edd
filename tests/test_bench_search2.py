"""bench/search2_bench.py's judging and checking arithmetic on figures and answers made by hand (no Elasticsearch):
figures within every target of issue 21's speed section meet them all, each way a figure can miss misses exactly
its own target, a part that failed is reported not measured, and the context check holds ours to the exact lines
around the anchor, clamped at the ends."""

from __future__ import annotations

import copy
import json

import pytest

from bench.__main__ import AT_LARGEST, TARGETS, targets
from bench.search2_bench import SEARCH2_TARGETS, anchors, check_context, page_groups, search2_targets, top_values


def sides(ours_p50: float, raw_p50: float, ours_p99: float = 0.0) -> dict:
    return {
        "ours": {"p50_ms": ours_p50, "p99_ms": ours_p99 or ours_p50},
        "raw": {"p50_ms": raw_p50, "p99_ms": raw_p50},
        "ratio_p50": round(ours_p50 / raw_p50, 3),
    }


WITHIN = {
    "indexed_lines": 11_000_000,
    "context": sides(12.0, 10.0, ours_p99=40.0),
    "histogram": sides(120.0, 100.0),
    "facets": sides(60.0, 50.0),
    "walk": {
        "ours_hits_per_s": 25_000,
        "ours": {
            "page_1_ms": 300.0,
            "first_pages": {"pages": [2, 21], "p50_ms": 40.0},
            "deep_pages": {"pages": [981, 1000], "p50_ms": 70.0},
        },
    },
    "export": {"ours_lines_per_s": 45_000, "worker_peak_rss_mb": 120.0},
    "regex": sides(300.0, 280.0),
}


def missed(fig: dict) -> set[str]:
    return {name for name, judged in search2_targets(fig).items() if not judged["met"]}


def test_figures_within_every_target_meet_them_all_and_each_is_listed_for_a_run_that_fails():
    judged = search2_targets(WITHIN)
    assert set(judged) == set(SEARCH2_TARGETS) <= set(TARGETS)
    assert all(fig["met"] for fig in judged.values())
    assert {"search2_context_p50_le_30ms", "search2_context_p99_le_100ms"} <= set(AT_LARGEST)


@pytest.mark.parametrize(
    ("part", "path", "value", "target"),
    [
        ("context", ("ours", "p50_ms"), 31.0, "search2_context_p50_le_30ms"),
        ("context", ("ours", "p99_ms"), 101.0, "search2_context_p99_le_100ms"),
        ("histogram", ("ratio_p50",), 1.31, "search2_histogram_p50_le_1.3x_bare"),
        ("facets", ("ratio_p50",), 1.31, "search2_facets_p50_le_1.3x_bare"),
        ("walk", ("ours_hits_per_s",), 19_999, "search2_walk_ge_20000_hits_per_s"),
        ("walk", ("ours", "deep_pages", "p50_ms"), 80.5, "search2_walk_deep_page_p50_le_2x_first"),
        ("export", ("ours_lines_per_s",), 39_999, "search2_export_ge_40000_lines_per_s"),
        ("export", ("worker_peak_rss_mb",), 150.0, "search2_export_worker_rss_lt_150mb"),
        ("regex", ("ours", "p50_ms"), 500.5, "search2_regex_p50_le_500ms"),
    ],
)
def test_a_figure_past_its_limit_misses_only_its_own_target(part, path, value, target):
    fig = copy.deepcopy(WITHIN)
    node = fig[part]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert missed(fig) == {target}


def test_a_part_that_failed_has_its_targets_reported_not_measured_and_the_measure_unmatched():
    fig = copy.deepcopy(WITHIN)
    fig["walk"] = {"error": "RuntimeError: walk page 3: ours differs from bare"}
    judged = targets({"search2": fig}, ["search2"])
    for name in ("search2_walk_ge_20000_hits_per_s", "search2_walk_deep_page_p50_le_2x_first"):
        assert judged[name] == {"met": False, "not_measured": "no figures"}
    assert judged["search2_matched_raw"]["met"] is False
    assert judged["search2_matched_raw"]["unmatched"] == ["walk"]
    assert judged["search2_regex_p50_le_500ms"]["met"] is True


def context_body(orders: list[int], anchor: int) -> bytes:
    hits = [
        {"_source": {"scale_order_num": k, "message": f"line {k}", **({"anchor": True} if k == anchor else {})}}
        for k in orders
    ]
    return json.dumps({"hits": {"hits": hits, "total": len(hits)}}).encode()


def bare_lines(orders) -> list[tuple[int, str]]:
    return [(k, f"line {k}") for k in orders]


def test_the_context_check_wants_exactly_the_lines_around_the_anchor_clamped_at_both_ends():
    check_context(500, 50, 1000, context_body(list(range(450, 551)), 500), bare_lines(range(450, 551)))
    check_context(1, 50, 1000, context_body(list(range(1, 52)), 1), bare_lines(range(1, 52)))
    check_context(1000, 50, 1000, context_body(list(range(950, 1001)), 1000), bare_lines(range(950, 1001)))
    with pytest.raises(RuntimeError, match="around 500"):  # one line short after the anchor
        check_context(500, 50, 1000, context_body(list(range(450, 550)), 500), bare_lines(range(450, 550)))
    with pytest.raises(RuntimeError, match="anchor marked"):
        check_context(500, 50, 1000, context_body(list(range(450, 551)), 501), bare_lines(range(450, 551)))
    other = bare_lines(range(450, 551))
    other[3] = (453, "another message")
    with pytest.raises(RuntimeError, match="differ from bare"):
        check_context(500, 50, 1000, context_body(list(range(450, 551)), 500), other)


def test_anchors_are_both_ends_then_distinct_order_numbers_of_the_log_the_same_every_run():
    drawn = anchors(30_000, 200)
    assert drawn[:2] == [1, 30_000] and len(set(drawn[2:])) == 200
    assert all(1 <= k <= 30_000 for k in drawn) and drawn == anchors(30_000, 200)
    assert sorted(anchors(10, 1000)[2:]) == list(range(1, 11))


def test_top_values_count_a_bucket_once_per_distinct_value_most_frequent_first_ties_by_value():
    node = {("node-01", "node-01"): 5, ("node-02", None): 3, ("node-03", "node-04"): 3, (None, None): 9}
    assert top_values(node, 3) == [
        {"value": "node-01", "count": 5},
        {"value": "node-02", "count": 3},
        {"value": "node-03", "count": 3},
    ]


def test_page_groups_put_the_opening_page_apart_from_the_first_and_the_deep_pages():
    groups = page_groups([100.0] + [10.0] * 20 + [30.0] * 979, 20)
    assert groups["page_1_ms"] == 100.0
    assert groups["first_pages"]["pages"] == [2, 21] and groups["first_pages"]["p50_ms"] == 10.0
    assert groups["deep_pages"]["pages"] == [981, 1000] and groups["deep_pages"]["p50_ms"] == 30.0
