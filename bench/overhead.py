"""Batch overhead of the plugin: the batch time of one workload in a driver with the plugin against a
driver without it, measured side by side by alternating blocks of batches between the two.

Why two drivers, alternated, and not one session with the plugin's work switched on and off: a
SparkSession's plugins are fixed when its JVM starts, and two sessions cannot share one JVM with
different `spark.plugins`. The plugin's per-batch work is its session-wide query listener and the
control plane it feeds; there is no public switch that turns that off for one query, so a "without"
query on the plugin's session would still pay for it and the ratio would read 1 by construction.
The honest baseline is a driver that never loaded the plugin. So a child driver without the plugin
(`run.py --baseline`) stays up for the whole stage, and the two take turns: a block of batches in
one, then a block in the other, the order flipping every pair, so the machine's drift (other
engineers' jobs, GC, thermal) falls on both alike instead of on whichever ran later. Only one
driver runs a query at a time; the other sits idle (the plugin's idle poller keeps running in the
plugin's JVM during the baseline blocks too, so it is a cost of the machine, not of a batch). Each
JVM first runs one uncounted block, and each block starts a fresh query whose first batches are
dropped, so neither side is measured while its JIT is cold.

Residual: two JVMs differ in heap layout and JIT decisions, which the interleave cannot remove;
the per-pair ratios (`batch_overhead_block_ratios`) show how much that and the drift move the
figure. The interval is a bootstrap over single batches (`ratio_interval`); batches within a block
are correlated, so read it together with the per-pair ratios.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time

from harness import RUN_PY, session, stage
from stats import ratio_interval


def batch_times(spark, warmup: int, batches: int, timeout: float = 300) -> list[float]:
    """`triggerExecution` ms of `batches` batches of a fresh 100 ms-trigger foreachBatch rate query,
    after dropping its first `warmup` batches."""
    q = (
        spark.readStream.format("rate").option("rowsPerSecond", 100).load()
        .writeStream.foreachBatch(lambda df, _id: df.count())
        .trigger(processingTime="100 milliseconds").start()
    )  # fmt: skip
    seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < warmup + batches:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {len(seen)} of {warmup + batches} batches in {timeout} s")
            for p in q.recentProgress:
                seen[p["batchId"]] = p["durationMs"]["triggerExecution"]
            time.sleep(0.2)
    finally:
        q.stop()
    ids = sorted(seen)[warmup : warmup + batches]
    return [float(seen[i]) for i in ids]


def baseline_child() -> None:
    """`run.py --baseline`: a driver without the plugin serving blocks of batches; for each stdin line
    `<warmup> <batches>`, one JSON line `{"batch_ms": [...]}` on stdout. Ends at end of input."""
    spark = session(plugin=False)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        warmup, batches = (int(x) for x in line.split())
        print(json.dumps({"batch_ms": batch_times(spark, warmup, batches)}), flush=True)
    spark.stop()


class BaselineDriver:
    """The child driver without the plugin, kept up for the stage and asked for one block at a time."""

    def __init__(self) -> None:
        self._log = tempfile.NamedTemporaryFile(prefix="bench-baseline-", suffix=".log", delete=False)
        self._proc = subprocess.Popen(
            [sys.executable, str(RUN_PY), "--baseline"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
        )  # fmt: skip
        self._answer("ready")

    def block(self, warmup: int, batches: int) -> list[float]:
        self._proc.stdin.write(f"{warmup} {batches}\n")
        self._proc.stdin.flush()
        return self._answer("batch_ms")

    def close(self) -> None:
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self._proc.kill()

    def _answer(self, key: str):
        # The child's JVM shares its stdout: skip any line that is not our JSON answer.
        for line in self._proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if isinstance(answer, dict) and key in answer:
                return answer[key]
        self._proc.wait(timeout=60)
        with open(self._log.name, errors="replace") as f:
            tail = f.read()[-3000:]
        raise SystemExit(f"bench: the baseline driver ended (exit {self._proc.returncode}):\n{tail}")


def overhead_figures(spark, url: str, out: dict, pairs: int = 6, warmup: int = 10, batches: int = 30) -> None:
    """Batch time with the plugin (this session) against without (a child driver), in `pairs` pairs
    of alternated blocks of `batches` batches each."""
    stage("batch overhead: starting a driver without the plugin beside this one")
    child = BaselineDriver()
    try:
        stage("batch overhead: one uncounted block in each driver (JIT warm-up)")
        child.block(warmup, batches)
        batch_times(spark, warmup, batches)
        plugin: list[float] = []
        baseline: list[float] = []
        block_ratios: list[float] = []
        for i in range(pairs):
            order = ("baseline", "plugin") if i % 2 == 0 else ("plugin", "baseline")
            got: dict[str, list[float]] = {}
            for kind in order:
                stage(f"batch overhead: pair {i + 1}/{pairs}, {kind}, {batches} batches")
                got[kind] = (
                    child.block(warmup, batches)
                    if kind == "baseline"
                    else batch_times(spark, warmup, batches)
                )
            plugin.extend(got["plugin"])
            baseline.extend(got["baseline"])
            block_ratios.append(
                round(statistics.median(got["plugin"]) / statistics.median(got["baseline"]), 3)
            )
    finally:
        child.close()
    out["baseline_median_batch_ms"] = round(statistics.median(baseline), 2)
    out["plugin_median_batch_ms"] = round(statistics.median(plugin), 2)
    out["batch_overhead_ratio"] = round(statistics.median(plugin) / statistics.median(baseline), 3)
    out["batch_overhead_ratio_95"] = list(ratio_interval(plugin, baseline))
    out["batch_overhead_block_ratios"] = block_ratios
    out["batch_overhead_batches_each"] = len(plugin)
