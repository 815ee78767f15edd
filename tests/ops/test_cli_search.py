"""`scale search` against a real gunicorn: a pattern, every match by cursor, the lines around a match, the
histogram and an export, each equal to what the lines posted make them."""

from __future__ import annotations

import csv
import json
import re

from tests.ops.test_cli import environment, installed, post_lines, readable, scale, server  # noqa: F401
from tests.reliability.seed import seed_jobs


def test_search_pattern_all_context_histogram_export(server, stores, tmp_path):  # noqa: F811
    exe = seed_jobs(stores, types=1, jobs=1, running=1, finished=0).running[0]
    messages = [f"disk /dev/sd{'abc'[i % 3]}{i % 5} full" if i % 4 == 0 else f"working {i}" for i in range(1, 1201)]
    messages[599] = "FATAL: out of memory in step 7"
    post_lines(server, exe.id, [{"message": m, "stream": "stdout"} for m in messages])
    readable(server, exe.id, messages[-1])
    env = environment(server, token=None)

    pattern = ".*sd[ab][0-3] full"
    found = scale("search", pattern, "--regex", "--all", "--oldest-first", "--json", env=env)
    assert found.returncode == 0, found.stderr
    assert [h["message"] for h in json.loads(found.stdout)["results"]] == [
        m for m in messages if re.fullmatch(pattern, m)
    ]
    refused = scale("search", ".*", "--regex", env=env)
    assert refused.returncode == 1 and "literal of at least 3" in refused.stderr

    around = scale("search", "FATAL", "--context", "2", env=env)
    assert around.returncode == 0, around.stderr
    assert around.stdout.splitlines()[1:] == [
        "598-working 598",
        "599-working 599",
        "600:FATAL: out of memory in step 7",
        "601-working 601",
        "602-working 602",
    ]

    histogram = json.loads(scale("search", "disk", "--histogram", "--json", env=env).stdout)
    assert histogram["total"] == sum(b["count"] for b in histogram["buckets"]) == 299  # 300 "disk" lines, less 600

    out = tmp_path / "matches.csv"
    exported = scale("search", "disk", "--export", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.reader(out.open()))
    assert [r[-1] for r in rows[1:]] == [m for m in messages if m.startswith("disk")]

    grouped = scale("search", "disk", "--group", "--json", env=env)
    assert grouped.returncode == 0, grouped.stderr
    rows = json.loads(grouped.stdout)["results"]
    assert [(r["job_exe_id"], r["matches"], r["first_match"]["message"]) for r in rows] == [
        (exe.id, 299, "disk /dev/sdb4 full")
    ]
    table = scale("search", "disk", "--group", env=env)
    assert table.returncode == 0 and "RUNNING" in table.stdout and "299" in table.stdout

    facets = scale("search", "disk", "--facets", "--json", env=env)
    assert facets.returncode == 0, facets.stderr
    answer = json.loads(facets.stdout)
    assert answer["total"] == 299 and answer["facets"]["status"] == [{"value": "RUNNING", "count": 299}]
    assert answer["facets"]["stream"] == [{"value": "stdout", "count": 299}]
    shown = scale("search", "disk", "--facets", "--status", "RUNNING", env=env)
    assert shown.returncode == 0 and "ERROR_CATEGORY" in shown.stdout and "100.0%" in shown.stdout
    none = scale("search", "disk", "--status", "COMPLETED", "--error-category", "DATA", "--json", env=env)
    assert none.returncode == 0 and json.loads(none.stdout)["count"] == 0
    version = json.loads(found.stdout)["results"][0]["job_type"]["version"]
    by_version = scale("search", "disk", "--job-type-version", version, "--json", env=env)
    assert json.loads(by_version.stdout)["count"] == 299
    other = scale("search", "disk", "--job-type-version", version + "-not", "--json", env=env)
    assert json.loads(other.stdout)["count"] == 0
    refused = scale("search", "disk", "--status", "DONE", env=env)
    assert refused.returncode == 2 and "--status" in refused.stderr
