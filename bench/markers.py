"""Marker-file figures: stops by deleting a query's marker with 500 registered queries, and the
FileSystem calls per poll (counted by the Scala MarkerFaultSuite)."""

from __future__ import annotations

import json
import os
import subprocess
import time

from harness import POLL_MS, ROOT, wait_until
from stats import dist


def fs_calls_per_poll() -> dict:
    """Run MarkerFaultSuite's counting test; it writes the calls per poll with 1, 10, 100 queries."""
    subprocess.run(
        [str(ROOT / "sbt"), 'jvm/testOnly *MarkerFaultSuite -- -z "one listing per poll"'],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    raw = json.loads((ROOT / "jvm" / "target" / "fs-calls-per-poll.json").read_text())
    return {k: round(v["callsPerPoll"], 2) for k, v in raw.items()}


def marker_stop_figures(queries: list, stop_dir: str, out: dict) -> None:
    """Delete each running query's marker file and time until the query has ended (500 registered)."""
    fs = []
    for q in queries:
        marker = os.path.join(stop_dir, str(q.id))
        wait_until(lambda m=marker: os.path.exists(m), 60)
        t0 = time.perf_counter()
        os.remove(marker)
        q.awaitTermination()
        fs.append((time.perf_counter() - t0) * 1000)
    out["fs_stop_ms_500"] = {**dist(fs, 50, 90), "poll_interval_ms": POLL_MS}


def marker_poll_figures(out: dict) -> None:
    """FileSystem calls per poll with 1, 10 and 100 queries (sbt, MarkerFaultSuite)."""
    out["fs_calls_per_poll"] = fs_calls_per_poll()
