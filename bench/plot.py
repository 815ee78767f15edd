"""bench/results/scaling.png: how each cost grows with the data, drawn from a run's JSON (matplotlib, no display).

Four panels, log-scaled sizes: the job list's p50 per filter family (PostgreSQL solid, SQLite dashed); the first
log page and the tail (ours solid, bare dotted); the whole-log read's seconds (ours as JSON, bare search_after,
the read ceiling) beside a line of slope 1 (linear growth); log search p50 (rare and common word, ours and bare).
`python -m bench.plot [result.json [out.png]]` redraws a saved run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.harness import ROOT


def _sizes(d: dict) -> list[tuple[int, dict]]:
    return sorted((int(k), v) for k, v in d.items())


def _ours_and_bare(ax, points: list[tuple[int, dict]], k: int, name: str) -> None:
    """p50 of ours (solid) and bare (dotted) in one colour, from figures with "ours" and "raw" summaries."""
    xs = [n for n, _ in points]
    ax.plot(xs, [f["ours"]["p50_ms"] for _, f in points], "-", marker="o", color=f"C{k}", label=f"{name} ours")
    ax.plot(xs, [f["raw"]["p50_ms"] for _, f in points], ":", marker="x", color=f"C{k}", label=f"{name} bare")


def draw(result: dict, path: Path) -> Path:
    m = result.get("measures", {})
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    (jobs_ax, page_ax), (read_ax, search_ax) = axes

    for backend, style in (("postgresql", "-"), ("sqlite", "--")):
        scaling = m.get("job_listing", {}).get(backend, {}).get("scaling", {})
        points = _sizes(scaling)
        if not points:
            continue
        for k, name in enumerate(points[0][1]):
            xs = [n for n, f in points if name in f]
            ys = [f[name]["ours_p50_ms"] for n, f in points if name in f]
            jobs_ax.plot(xs, ys, style, marker="o", color=f"C{k}", label=f"{name} ({backend})")
    jobs_ax.set(xscale="log", yscale="log", xlabel="jobs", ylabel="p50 ms (whole HTTP request)")
    jobs_ax.set_title("Job list, page of 100: should stay flat")
    jobs_ax.legend(fontsize=6, ncol=2)

    reads = _sizes(m.get("log_scaling", {}).get("sizes", {}))
    for k, name in enumerate(("first_1000", "tail_100")):
        _ours_and_bare(page_ax, [(n, p[name]) for n, p in reads], k, name)
    page_ax.set(xscale="log", xlabel="lines in the log", ylabel="p50 ms", ylim=(0, None))
    page_ax.set_title("First log page and tail: should stay flat")
    page_ax.legend(fontsize=7)

    sides = {
        "json_lines_per_s": "ours (JSON body)",
        "raw_lines_per_s": "bare search_after",
        "ceiling_lines_per_s": "read ceiling",
    }
    for k, (key, label) in enumerate(sides.items()):
        xs = [n for n, p in reads if key in p.get("whole", {})]
        ys = [n / p["whole"][key] for n, p in reads if key in p.get("whole", {})]
        if xs:
            read_ax.plot(xs, ys, "-", marker="o", color=f"C{k}", label=label)
    if reads and "whole" in reads[0][1] and "json_lines_per_s" in reads[0][1]["whole"]:
        n0, p0 = reads[0]
        base = n0 / p0["whole"]["json_lines_per_s"]
        xs = [n for n, _ in reads]
        read_ax.plot(xs, [base * n / n0 for n in xs], color="grey", linewidth=0.8, linestyle="--", label="linear")
    read_ax.set(xscale="log", yscale="log", xlabel="lines in the log", ylabel="seconds")
    read_ax.set_title("Whole-log read: should grow linearly")
    read_ax.legend(fontsize=7)

    levels = _sizes(m.get("search", {}).get("levels", {}))
    for k, word in enumerate(("rare_word", "common_word")):
        _ours_and_bare(search_ax, [(n, f[word]) for n, f in levels if word in f], k, word)
    search_ax.set(xscale="log", xlabel="lines searched", ylabel="p50 ms", ylim=(0, None))
    search_ax.set_title("Log search, first page of 100")
    search_ax.legend(fontsize=7)

    load = result.get("machine", {})
    start, end = (round(load.get(k, [0.0])[0], 1) for k in ("load_avg_at_start", "load_avg_at_end"))
    fig.suptitle(
        f"make bench ({result.get('mode')}), {load.get('cores')} cores, load {start} -> {end}",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench" / "results" / "latest-full.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "bench" / "results" / "scaling.png"
    print(draw(json.loads(source.read_text()), target))
