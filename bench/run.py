"""`make bench`: figures measured side by side in one run on a local Spark; prints a progress line
per stage, then a table, and writes bench/results/latest.json (its keys: docs/benchmarks.md). HTTP
load comes from wrk (a real load generator, installed by `make setup`). Keep the machine otherwise
idle for stable numbers.

    bench/run.py                  every stage
    bench/run.py --only <stage>   one stage again, its figures merged into the last results
    bench/run.py --baseline       (child) a driver without the plugin serving blocks of batches
    bench/run.py --port-ready W   (child) one port-readiness sample, W = early | previous

One module per figure family: rest (HTTP), markers (marker files), stops (mid-batch and stateful
stops), overhead (batch time with and without the plugin), lifecycle (managed queries), dynconf,
checkpoint (the inspector), port_ready; harness, stats and report are what they share."""

from __future__ import annotations

import os
import sys
import tempfile
import time

import checkpoint
import dynconf
import lifecycle
import markers
import overhead
import port_ready
import rest
import stops
from harness import session, stage
from report import RESULTS, commit, report

import stopstreaming

# The stages that run on one plugin session, in the order of a full run: name -> figures(spark, url, out).
SESSION_STAGES = {
    "overhead": overhead.overhead_figures,
    "replays": stops.replay_figures,
    "dynconf": dynconf.dynconf_figures,
    "lifecycle": lifecycle.lifecycle_figures,
    "checkpoint": checkpoint.checkpoint_figures,
    "stateful": stops.stateful_stop_figures,
}


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def main() -> None:
    started = time.time()
    out: dict = {}
    stop_dir = tempfile.mkdtemp(prefix="bench-stop-")
    port_ready.port_ready_figures(out)
    spark = session(plugin=True, stop_dir=stop_dir)
    url = stopstreaming.control_url(spark)
    rest.http_figures(spark, url, stop_dir, out)
    for figures in SESSION_STAGES.values():
        figures(spark, url, out)
    stage("Scala read of a dynamic value (sbt, test sources)")
    dynconf.dynconf_scala_figures(out)
    stage("marker-file calls per poll (sbt, MarkerFaultSuite)")
    markers.marker_poll_figures(out)
    out.update(
        spark_version=spark.version,
        cpu_count=os.cpu_count(),
        timestamp=now(),
        duration_s=round(time.time() - started, 1),
    )
    spark.stop()
    report(out, RESULTS)


def only(stage_name: str) -> None:
    """`bench/run.py --only dynconf`: one stage again, its figures merged into the last results."""
    import json

    names = ["port-ready", "http", *SESSION_STAGES]
    if stage_name not in names:
        raise SystemExit(f"bench: no stage {stage_name!r}; the stages: {', '.join(names)}")
    out = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if stage_name == "port-ready":
        port_ready.port_ready_figures(out)
    else:
        stop_dir = tempfile.mkdtemp(prefix="bench-stop-")
        spark = session(plugin=True, stop_dir=stop_dir)
        url = stopstreaming.control_url(spark)
        if stage_name == "http":
            rest.http_figures(spark, url, stop_dir, out)
        else:
            SESSION_STAGES[stage_name](spark, url, out)
        spark.stop()
    out.update(commit=commit(), timestamp=now())
    report(out, RESULTS)


if __name__ == "__main__":
    if "--baseline" in sys.argv:
        overhead.baseline_child()
    elif "--port-ready" in sys.argv:
        port_ready.port_ready_child(sys.argv[sys.argv.index("--port-ready") + 1])
    elif "--only" in sys.argv:
        only(sys.argv[sys.argv.index("--only") + 1])
    else:
        main()
