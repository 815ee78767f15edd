"""bench/capacity.py: the capacity model's arithmetic, against rows computed by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.capacity import BEGIN, END, Assumptions, Figures, plan, table, write_readme

FIGURES = Figures(
    ingest_lines_per_s=10_000,
    bytes_per_line=400,
    search_common_ms_per_million_lines=5,
    api_requests_per_s_per_worker={"job_details": 100, "job_list": 50, "first_log_page": 20, "search_common_word": 10},
    api_http_ingest_lines_per_s_per_worker=10_000,
    sql_bytes_per_job=2000,
    sql_bytes_per_execution=1000,
)


def test_a_row_computed_by_hand():
    # 1B lines a day, 30 days: peak 34,722 lines/s, twice indexed = 6.94 cores -> 2 nodes of 4 usable cores;
    # 400 GB a day, 24 TB with the replica over 1.5 TB usable a node -> 16 nodes (disk decides);
    # 14 primaries of < 30 GB; 100k jobs -> 69.4 req/s at peak, 2.29 workers busy + 3.47 for HTTP ingest -> 12.
    row = plan(FIGURES, 1_000_000_000, 30)
    assert (row.data_nodes, row.bound_by, row.shards_per_daily_index) == (16, "disk", 14)
    assert row.disk_bytes == pytest.approx(24e12)
    assert row.api_workers == 12
    assert row.postgresql_bytes == pytest.approx(100_000 * 30 * (2000 + 1.2 * 1000))
    assert row.search_day_p50_ms == pytest.approx(5 * 1000 / 14)


def test_doubling_retention_doubles_disk_and_postgresql():
    short, long = plan(FIGURES, 100_000_000, 45), plan(FIGURES, 100_000_000, 90)
    assert long.disk_bytes == pytest.approx(2 * short.disk_bytes)
    assert long.postgresql_bytes == pytest.approx(2 * short.postgresql_bytes)
    assert long.shards_per_daily_index == short.shards_per_daily_index  # a day's index does not depend on it


def test_node_counts_round_up():
    # Usable disk a node: 1e12 * 0.5; 1,000,001 lines of 1,000 bytes, twice, 250 days -> just over one node.
    a = Assumptions(node_disk_bytes=1e12, disk_fill=0.5, min_data_nodes=1)
    row = plan(replace(FIGURES, bytes_per_line=1000), 1_000_001, 250, a)
    assert (row.data_nodes, row.bound_by) == (2, "disk")
    exact = plan(replace(FIGURES, bytes_per_line=1000), 1_000_000, 250, a)
    assert exact.data_nodes == 1


def test_ingest_sets_the_nodes_when_lines_are_small_and_fast():
    # 10B lines a day of 10 bytes for a day: disk is small, 347,222 lines/s twice over 10,000 a core is 69.4
    # cores -> 18 nodes of 4 usable cores; the daily index gets a primary for every two of them.
    row = plan(replace(FIGURES, bytes_per_line=10), 10_000_000_000, 1)
    assert (row.data_nodes, row.bound_by, row.shards_per_daily_index) == (18, "ingest", 9)


def test_no_api_ingest_needs_fewer_workers():
    through = plan(FIGURES, 1_000_000_000, 30)
    direct = plan(FIGURES, 1_000_000_000, 30, Assumptions(ingest_through_api=False))
    assert direct.api_workers == 5 < through.api_workers  # ceil(2.29 / 0.5)


def test_the_table_covers_every_volume_and_retention():
    rows = table(FIGURES)
    assert [(r.lines_per_day, r.retention_days) for r in rows][:3] == [
        (10_000_000, 30),
        (10_000_000, 90),
        (100_000_000, 30),
    ]
    assert len(rows) == 8
    assert all(later.data_nodes >= earlier.data_nodes for earlier, later in zip(rows[::2], rows[2::2]))


def test_figures_read_from_a_sizing_run_alone_or_inside_a_bench_run():
    per_core = {
        "ingest_lines_per_s": 1,
        "bytes_per_line": 2,
        "search_common_ms_per_million_lines": 3,
        "api_requests_per_s_per_worker": {"job_details": 4},
        "api_http_ingest_lines_per_s_per_worker": 5,
        "sql_bytes_per_job": 6,
        "sql_bytes_per_execution": 7,
    }
    alone = Figures.of({"sizing": {"per_core": per_core}})
    assert alone == Figures.of({"measures": {"sizing": {"per_core": per_core}}})
    assert (alone.bytes_per_line, alone.sql_bytes_per_execution) == (2, 7)
    with pytest.raises(SystemExit):
        Figures.of({"measures": {"sizing": {"error": "broken"}}})


def test_the_readme_section_between_the_markers_is_replaced(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{BEGIN}\nold table\n{END}\nafter\n")
    write_readme("new table\n", readme)
    assert readme.read_text() == f"before\n{BEGIN}\nnew table\n{END}\nafter\n"
