"""Managed-query figures: batch time of managed against unmanaged twins running at once, and resume or
restart to the first batch of the new run."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time

from harness import stage, wait_until
from stats import dist, ratio_interval

import stopstreaming


def lifecycle_figures(
    spark, url: str, out: dict, rounds: int = 2, batches: int = 120, resumes: int = 5
) -> None:
    """Managed queries: per-batch time of a managed query against an unmanaged twin running at the same
    time in the same driver (so the machine's noise falls on both alike; which one starts first
    alternates between rounds), and the time from a resume (or a restart) to the first batch of the
    new run."""
    stage(f"batch time, managed and unmanaged twins side by side, {rounds} rounds of {batches} batches")

    def start_twin(name: str):
        def start(s):
            return (
                s.readStream.format("rate").option("rowsPerSecond", 100).load()
                .writeStream.foreachBatch(lambda df, _id: df.count()).queryName(name)
                .trigger(processingTime="100 milliseconds").start()
            )  # fmt: skip

        return start

    warmup = 20
    plain: list[float] = []
    managed: list[float] = []
    for r in range(rounds):
        kinds = ["unmanaged", "managed"] if r % 2 == 0 else ["managed", "unmanaged"]
        started: dict = {}
        for kind in kinds:
            name = f"bench-{kind}-{r}"
            if kind == "managed":
                handle = stopstreaming.manage(spark, name, start_twin(name))
                started[kind] = (handle.query, handle)
            else:
                started[kind] = (start_twin(name)(spark), None)
        seen: dict[str, dict[int, float]] = {"managed": {}, "unmanaged": {}}
        while min(len(v) for v in seen.values()) < warmup + batches:
            for kind, (q, _) in started.items():
                for p in q.recentProgress:
                    seen[kind][p["batchId"]] = p["durationMs"]["triggerExecution"]
            time.sleep(0.2)
        for q, handle in started.values():
            if handle:
                handle.stop(wait=60)
            else:
                q.stop()
        for kind, into in (("managed", managed), ("unmanaged", plain)):
            ids = sorted(seen[kind])[warmup : warmup + batches]
            into.extend(seen[kind][i] for i in ids)
    out["managed_median_batch_ms"] = round(statistics.median(managed), 2)
    out["unmanaged_median_batch_ms"] = round(statistics.median(plain), 2)
    out["managed_batch_overhead_ratio"] = round(statistics.median(managed) / statistics.median(plain), 3)
    out["managed_batch_overhead_ratio_95"] = list(ratio_interval(managed, plain))
    out["managed_batches_each"] = len(managed)

    stage(f"resume and restart to the first batch of the new run, n={resumes} each")
    firsts: list[float] = []
    lock = threading.Lock()

    def sink(df, batch_id):
        with lock:
            firsts.append(time.perf_counter())
        df.count()

    ckpt = tempfile.mkdtemp(prefix="bench-managed-")

    def start(s):
        return (
            s.readStream.format("rate").option("rowsPerSecond", 10).load()
            .writeStream.foreachBatch(sink).queryName("bench-resume").option("checkpointLocation", ckpt)
            .trigger(processingTime="200 milliseconds").start()
        )  # fmt: skip

    handle = stopstreaming.manage(spark, "bench-resume", start)
    results: dict[str, list[float]] = {"resume": [], "restart": []}
    for verb in ("resume", "restart"):
        for _ in range(resumes):
            wait_until(lambda: len(firsts) > 0, 60)
            if verb == "resume":
                handle.pause(wait=60)
            with lock:
                firsts.clear()
            t0 = time.perf_counter()
            getattr(handle, verb)()
            wait_until(lambda: len(firsts) > 0, 60)
            results[verb].append((firsts[0] - t0) * 1000)
    handle.stop(wait=60)
    out["resume_to_first_batch_ms"] = dist(results["resume"], 50, 90)
    out["restart_to_first_batch_ms"] = dist(results["restart"], 50, 90)
