"""The shipper's spool on a full disk (a tiny tmpfs mounted for the test, as root, unmounted after):
appending fails with a clear error, the records spooled before (and after space comes back) stay readable,
and the ingest route answers 507 (out of space, as specified; 503 is for other disk errors) instead of a 500,
and keeps every line it acknowledged with a 202."""

from __future__ import annotations

import errno
import json
import os

from ingest.log_writer import SpoolBatch
from ingest.spool import SUFFIX, Spool, decode_records
from tests.conftest import ADMIN_TOKEN, fill
from tests.reliability.harness import assert_clean_error, free_port, ndjson
from tests.reliability.seed import lines, seed_jobs

NDJSON = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/x-ndjson"}


def test_spool_on_a_full_disk_refuses_clearly_and_keeps_every_acknowledged_record(tiny_disk, figures):
    ballast = fill(tiny_disk, leave=40 * 1024)
    spool = Spool(tiny_disk / "spool")
    acknowledged: list[bytes] = []
    error = None
    for n in range(1000):
        payload = f"record {n} ".encode() + os.urandom(1500).hex().encode()  # ~3 KB, not page-aligned
        try:
            spool.append(payload)
        except OSError as exc:
            error = exc
            break
        acknowledged.append(payload)
    assert error is not None and error.errno == errno.ENOSPC, error
    assert len(acknowledged) >= 5
    # Space comes back (an operator cleans up); the spool goes on accepting, durably.
    ballast.unlink()
    for n in range(5):
        payload = f"after {n} ".encode() + os.urandom(1500).hex().encode()
        spool.append(payload)
        acknowledged.append(payload)
    spool.close()  # as at exit with Elasticsearch down: the segments stay for the next process
    recovered = [payload for _seg, payloads in Spool(tiny_disk / "spool").take_orphans() for payload in payloads]
    figures.setdefault("faults", {})["spool_disk_full"] = {
        "acknowledged": len(acknowledged),
        "recovered": len(recovered),
    }
    assert recovered == acknowledged, (
        f"{len(acknowledged)} records acknowledged, {len(recovered)} readable after "
        "a restart: the record torn by ENOSPC hides every record appended after it"
    )


def test_ingest_route_on_a_full_spool_disk_answers_clearly(make_client, stores, tiny_disk):
    dead_elasticsearch = f"http://127.0.0.1:{free_port()}"  # nothing listens: every line stays spooled
    client = make_client(spool_dir=tiny_disk / "spool", elasticsearch_url=dead_elasticsearch, elasticsearch_timeout=0.2)
    exe = seed_jobs(stores, types=1, jobs=1, running=1, finished=0).running[0]
    path = f"/v6/job-executions/{exe.id}/logs/"
    ballast = fill(tiny_disk, leave=64 * 1024)
    statuses, acknowledged, refused = [], [], []
    for batch in range(40):
        sent = lines(20, start=batch * 20 + 1, prefix="x" * 200)
        r = client.simulate_post(path, headers=NDJSON, body=ndjson(sent))
        statuses.append(r.status_code)
        (acknowledged if r.status_code == 202 else refused).extend(line["message"] for line in sent)
        if r.status_code != 202:
            break
    assert statuses[0] == 202 and statuses[-1] != 202, statuses
    assert statuses[-1] == 507, f"a full spool disk answered {statuses[-1]}: {r.text}"
    assert_clean_error(r.content, r.status_code)
    ballast.unlink()
    after = lines(5, prefix="after")
    again = client.simulate_post(path, headers=NDJSON, body=ndjson(after))
    assert again.status_code == 202, again.text
    acknowledged += [line["message"] for line in after]
    # Elasticsearch is down: every acknowledged line is still in the spool, readable (a record torn by the full
    # disk would hide the ones after it), once; nothing of the refused body is.
    spooled = []
    for segment in sorted((tiny_disk / "spool").glob("*" + SUFFIX)):
        records, _torn = decode_records(segment.read_bytes())
        for payload in records:
            spooled += [
                json.loads(source)["message"] for _, source in SpoolBatch.from_payload(payload, None, 0.0).pairs
            ]
    assert sorted(spooled) == sorted(acknowledged), (
        f"{len(acknowledged)} lines acknowledged, {len(spooled)} in the spool"
    )
