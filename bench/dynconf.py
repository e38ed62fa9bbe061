"""Dynamic configuration figures: Python reads inside foreachBatch while values change, a bare
Python read, and a Scala read timed in the JVM by the test-source benchmark."""

from __future__ import annotations

import statistics
import subprocess
import time

import requests
from harness import ROOT, TOKEN, stage, wait_until

import stopstreaming


def dynconf_figures(spark, url: str, out: dict) -> None:
    """Python reads inside foreachBatch: 10 reads a batch, a change every 5 batches."""
    h = {"Authorization": f"Bearer {TOKEN}"}
    for i in range(10):
        requests.put(f"{url}/api/v1/conf/bench.k{i}", data=b"v" * 100, headers=h, timeout=10)
    conf = stopstreaming.dynamic_conf(spark)
    conf.get("bench.k0")  # the first read sets the local copy up: a one-time cost, not a read's
    per_batch: list[float] = []
    stale = [0]

    def sink(df, batch_id):
        expected = requests.get(f"{url}/api/v1/conf/bench.k0", headers=h, timeout=10).json()["value"]
        t0 = time.perf_counter()
        values = [conf.get(f"bench.k{i}") for i in range(10)]
        per_batch.append((time.perf_counter() - t0) / 10 * 1e6)
        stale[0] += values[0] != expected
        if batch_id % 5 == 0:
            requests.put(f"{url}/api/v1/conf/bench.k0", data=f"b{batch_id}".encode(), headers=h, timeout=10)

    stage("Python dynamic configuration reads in foreachBatch, 40 batches")
    q = (
        spark.readStream.format("rate").option("rowsPerSecond", 10).load()
        .writeStream.foreachBatch(sink).trigger(processingTime="100 milliseconds").start()
    )  # fmt: skip
    wait_until(lambda: len(per_batch) >= 40, 300)
    q.stop()
    out["dynconf_read_us_python_batch"] = round(statistics.mean(per_batch[:40]), 2)
    out["dynconf_read_us_python_batch_p50"] = round(statistics.median(per_batch[:40]), 2)
    out["dynconf_stale_reads"] = stale[0]
    t0 = time.perf_counter()
    for _ in range(2000):
        conf.get("bench.k0")
    out["dynconf_read_us_python"] = round((time.perf_counter() - t0) / 2000 * 1e6, 2)


def scala_read_ns() -> float:
    """One DynamicConf.get in a JVM, timed by the test-source benchmark (a Py4J call would dwarf it)."""
    main = "io.github.stopstreaming.bench.DynamicConfReadBench"
    r = subprocess.run([str(ROOT / "sbt"), f"jvm/Test/runMain {main} 2000000"], cwd=ROOT,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True)  # fmt: skip
    line = next(ln for ln in r.stdout.splitlines() if "dynconf_read_ns_scala=" in ln)
    return float(line.split("=", 1)[1].split()[0])


def dynconf_scala_figures(out: dict) -> None:
    """One DynamicConf.get in the JVM (None on a tree without the read benchmark, a before/after run)."""
    try:
        out["dynconf_read_ns_scala"] = scala_read_ns()
    except (subprocess.CalledProcessError, StopIteration):
        out["dynconf_read_ns_scala"] = None
