"""Mid-batch stops: Spark's own query.stop() against the graceful stop, alternated in one run, on a
foreachBatch workload (batches replayed after a restart, stop time) and on each stateful workload of
tests/workloads.py (end-to-end time to drained, replays, sink exact against the batch query)."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

import requests
from harness import ROOT, TOKEN, stage, wait_until
from stats import dist

import stopstreaming


def replay_figures(spark, url: str, out: dict) -> None:
    """Mid-batch stops of one foreachBatch workload: Spark's own query.stop() against our graceful stop."""
    h = {"Authorization": f"Bearer {TOKEN}"}
    results: dict[str, dict] = {}
    for kind in ("baseline", "graceful"):
        stage(f"mid-batch stops with restart, {kind}, n=5")
        replays, times = 0, []
        for _ in range(5):
            ckpt = tempfile.mkdtemp(prefix="bench-ckpt-")
            log: list[tuple[str, int]] = []
            lock = threading.Lock()

            def sink(df, batch_id, log=log, lock=lock):
                with lock:
                    log.append(("begin", batch_id))
                time.sleep(1.0)
                df.count()
                with lock:
                    log.append(("end", batch_id))

            def start(ckpt=ckpt, sink=sink):
                return (
                    spark.readStream.format("rate").option("rowsPerSecond", 10).load()
                    .writeStream.foreachBatch(sink).option("checkpointLocation", ckpt)
                    .trigger(processingTime="200 milliseconds").start()
                )  # fmt: skip

            q = start()
            wait_until(
                lambda log=log: sum(1 for k, _ in log if k == "end") >= 1 and log[-1][0] == "begin", 120
            )
            time.sleep(0.3)  # well inside the batch
            t0 = time.perf_counter()
            if kind == "baseline":
                q.stop()
            else:
                requests.post(f"{url}/api/v1/queries/{q.id}/stop", headers=h, timeout=60)
                q.awaitTermination()
            times.append((time.perf_counter() - t0) * 1000)
            time.sleep(1.5)  # a Python sink cut by stop() still runs to its end
            first = [b for k, b in log if k == "begin"]
            n = len(log)
            q = start()
            wait_until(lambda log=log, n=n: any(k == "end" for k, _ in log[n:]), 120)
            q.stop()
            rerun = [b for k, b in log[n:] if k == "begin"]
            replays += sum(1 for b in rerun if b in first)
        results[kind] = {"replays": replays, "stop_ms": dist(times, 50, 90)}
    out["stop_replays"] = results
    out["baseline_replays"] = results["baseline"]["replays"]
    out["graceful_replays"] = results["graceful"]["replays"]
    out["stop_time_ratio_graceful_to_baseline"] = round(
        results["graceful"]["stop_ms"]["p50"] / max(results["baseline"]["stop_ms"]["p50"], 0.001), 3
    )


def stateful_stop_figures(spark, url: str, out: dict, runs: int = 2) -> None:
    """Each stateful workload of tests/workloads.py stopped in mid-batch (its rows already in the sink),
    started again from its checkpoint and drained, once with Spark's query.stop() and once with our
    graceful stop, alternated: end-to-end time from start to drained, batches run twice, and whether the
    sink still equals the batch query."""
    sys.path.insert(0, str(ROOT / "tests"))
    import workloads
    from conftest import wait_for

    cases = {
        "tumbling-append": lambda: workloads.windows("append"),
        "join-left_outer": lambda: workloads.join("left_outer"),
        "dedup-within-watermark": lambda: workloads.dedup(True),
        "sessions-applyInPandasWithState": workloads.sessions_with_state,
    }
    if int(spark.version.split(".")[0]) >= 4:
        cases["sessions-transformWithStateInPandas"] = workloads.sessions_with_timers
    figures: dict[str, dict] = {}
    for name, make in cases.items():
        stage(f"stateful stop in mid-batch, restart, drain: {name}, {runs} x (query.stop(), graceful)")
        got: dict[str, dict] = {
            "stop": {"ms": [], "replays": 0, "exact": 0},
            "graceful": {"ms": [], "replays": 0, "exact": 0},
        }
        for _ in range(runs):
            for kind in ("stop", "graceful"):
                workload = make()
                root = tempfile.mkdtemp(prefix="bench-stateful-")
                ckpt = os.path.join(root, "ckpt")
                for source, files in workload.inputs.items():
                    workloads.write_inputs(os.path.join(root, "in", source), files)
                sink = workloads.JsonSink()
                start = workloads.starter(os.path.join(root, "in"), ckpt, workload, sink)
                t0 = time.perf_counter()
                q = start(spark)
                workloads.mid_batch(sink, 2, wait_for)
                if kind == "stop":
                    q.stop()
                else:
                    stopstreaming.request_stop(q, wait="60s")
                q.awaitTermination(60)
                wait_until(lambda sink=sink: not sink.in_flight(), 60)  # a cut Python batch runs to its end
                q = start(spark)
                stopstreaming.request_stop(q, when="caught-up", wait="120s")
                q.awaitTermination(60)
                got[kind]["ms"].append((time.perf_counter() - t0) * 1000)
                begun = sink.ids("begin")
                got[kind]["replays"] += len(begun) - len(set(begun))
                final = workloads.canonical(workloads.final_rows(sink, workload))
                oracle = workloads.canonical(workloads.oracle_rows(spark, os.path.join(root, "in"), workload))
                got[kind]["exact"] += final == oracle
                shutil.rmtree(root, ignore_errors=True)
        figures[name] = {
            "end_to_end_ratio_graceful_to_stop": round(
                statistics.median(got["graceful"]["ms"]) / statistics.median(got["stop"]["ms"]), 3
            ),
            "replays_stop": got["stop"]["replays"],
            "replays_graceful": got["graceful"]["replays"],
            "exact_runs_stop": f"{got['stop']['exact']}/{runs}",
            "exact_runs_graceful": f"{got['graceful']['exact']}/{runs}",
            "end_to_end_ms_stop": round(statistics.median(got["stop"]["ms"])),
            "end_to_end_ms_graceful": round(statistics.median(got["graceful"]["ms"])),
        }
    out["stateful_stops"] = figures
