"""`make bench`: figures measured side by side in one run on a local Spark; prints a table and
writes bench/results/latest.json. Keep the machine otherwise idle for stable numbers."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

import stopstreaming

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
TOKEN = "bench-token"
POLL_MS = 200


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))], 2)


def scala_read_ns() -> float:
    """One DynamicConf.get in a JVM, timed by the test-source benchmark (a Py4J call would dwarf it)."""
    root = Path(__file__).resolve().parents[1]
    main = "io.github.stopstreaming.bench.DynamicConfReadBench"
    r = subprocess.run([str(root / "sbt"), f"jvm/Test/runMain {main} 2000000"], cwd=root,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True)  # fmt: skip
    line = next(ln for ln in r.stdout.splitlines() if "dynconf_read_ns_scala=" in ln)
    return float(line.split("=", 1)[1].split()[0])


def dist(values: list[float], *ps: int) -> dict:
    return {**{f"p{p}": pct(values, p) for p in ps}, "n": len(values)}


def session(plugin: bool, stop_dir: str | None = None):
    from pyspark.sql import SparkSession

    b = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
    )
    if plugin:
        b = stopstreaming.configure(
            b,
            rest_port=0,
            rest_host="127.0.0.1",
            auth_token=TOKEN,
            fs_stop_dir=stop_dir,
            fs_poll_interval=f"{POLL_MS}ms",
        )
    s = b.getOrCreate()
    s.sparkContext.setLogLevel("ERROR")
    return s


def idle_query(spark, name=None):
    w = spark.readStream.format("rate").load().writeStream.format("noop").trigger(processingTime="1 minute")
    q = (w.queryName(name) if name else w).start()
    while q.lastProgress is None or q.status["isTriggerActive"]:
        time.sleep(0.02)
    return q


def median_batch_ms(spark, reads_per_batch: int = 0, warmup: int = 30, batches: int = 40) -> float:
    """Median `triggerExecution` time of a 100 ms-trigger rate query, after `warmup` batches.

    With `reads_per_batch`, each batch's foreachBatch reads that many dynamic keys first.
    """
    conf = stopstreaming.dynamic_conf(spark) if reads_per_batch else None

    def sink(df, batch_id):
        for i in range(reads_per_batch):
            conf.get(f"bench.k{i}")
        df.count()

    q = (
        spark.readStream.format("rate").option("rowsPerSecond", 100).load()
        .writeStream.foreachBatch(sink).trigger(processingTime="100 milliseconds").start()
    )  # fmt: skip
    seen: dict[int, float] = {}
    while len(seen) < warmup + batches:
        for p in q.recentProgress:
            seen[p["batchId"]] = p["durationMs"]["triggerExecution"]
        time.sleep(0.2)
    q.stop()
    ids = sorted(seen)[warmup : warmup + batches]
    return float(statistics.median(seen[i] for i in ids))


def baseline_child() -> None:
    """Run in a subprocess: the same batch measurement with no plugin at all."""
    spark = session(plugin=False)
    print(json.dumps({"median_batch_ms": median_batch_ms(spark)}))
    spark.stop()


def main() -> None:
    started = time.time()
    out: dict = {}
    stop_dir = tempfile.mkdtemp(prefix="bench-stop-")

    # Baseline first, in its own driver without the plugin.
    child = subprocess.run(
        [sys.executable, __file__, "--baseline"], capture_output=True, text=True, check=True
    )
    baseline = json.loads(child.stdout.strip().splitlines()[-1])["median_batch_ms"]

    spark = session(plugin=True, stop_dir=stop_dir)
    url = stopstreaming.control_url(spark)
    h = {"Authorization": f"Bearer {TOKEN}"}
    jvm = spark._jvm

    # Threads of stopstreaming with 1, 10 and 100 registered idle queries, on a fresh driver.
    count = jvm.io.github.stopstreaming.core.NamedThreads.count
    queries, threads = [], {}
    for target in (1, 10, 100):
        while len(queries) < target:
            queries.append(idle_query(spark))
        time.sleep(1)
        threads[f"q{target}"] = int(count())
    out["plugin_threads"] = threads

    # HTTP load with 100 registered queries (the ones above, still running).
    errors, done = [0], [0]
    deadline = time.perf_counter() + 10

    def client() -> None:
        s = requests.Session()
        while time.perf_counter() < deadline:
            try:
                ok = s.get(f"{url}/api/v1/queries", headers=h, timeout=10).status_code == 200
            except requests.RequestException:
                ok = False
            done[0] += 1
            errors[0] += 0 if ok else 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(client)
    out["http_queries_rps"] = round(done[0] / (time.perf_counter() - t0), 1)
    out["http_error_count"] = errors[0]

    out["plugin_threads_after_load"] = int(count())

    # Batch overhead: the same query with the plugin and 20 other registered queries, against no plugin.
    for q in queries[20:]:
        q.stop()
    with_plugin = median_batch_ms(spark)
    out["batch_overhead_ratio"] = round(with_plugin / baseline, 3)
    for q in queries[:20]:
        q.stop()

    # Graceful stop of an idle query (1-minute trigger): request sent -> query ended.
    idle = []
    for _ in range(30):
        q = idle_query(spark)
        t0 = time.perf_counter()
        requests.post(f"{url}/api/v1/queries/{q.id}/stop", headers=h, timeout=30)
        q.awaitTermination()
        idle.append((time.perf_counter() - t0) * 1000)
    out["rest_stop_idle_ms"] = dist(idle, 50, 90, 99)

    # Graceful stop in mid-batch: end of that batch -> query ended.
    extra = []
    for _ in range(10):
        marks: dict = {}

        def sink(df, batch_id, marks=marks):
            marks.setdefault("begun", threading.Event()).set()
            time.sleep(1.0)
            df.count()
            marks["end"] = time.perf_counter()

        q = spark.readStream.format("rate").load().writeStream.foreachBatch(sink).start()
        while "begun" not in marks:
            time.sleep(0.01)
        time.sleep(0.3)
        requests.post(f"{url}/api/v1/queries/{q.id}/stop", headers=h, timeout=30)
        q.awaitTermination()
        extra.append((time.perf_counter() - marks["end"]) * 1000)
    out["rest_stop_midbatch_extra_ms"] = dist(extra, 50, 90)

    # Marker deleted -> query ended.
    fs = []
    for _ in range(10):
        q = idle_query(spark)
        marker = os.path.join(stop_dir, str(q.id))
        while not os.path.exists(marker):
            time.sleep(0.01)
        time.sleep(POLL_MS / 1000 * 1.5)
        t0 = time.perf_counter()
        os.remove(marker)
        q.awaitTermination()
        fs.append((time.perf_counter() - t0) * 1000)
    out["fs_stop_ms"] = {**dist(fs, 50, 90), "poll_interval_ms": POLL_MS}

    # Dynamic configuration reads.
    for i in range(10):
        requests.put(f"{url}/api/v1/conf/bench.k{i}", data=b"v" * 100, headers=h, timeout=10)
    out["dynconf_read_ns_scala"] = scala_read_ns()
    conf = stopstreaming.dynamic_conf(spark)
    t0 = time.perf_counter()
    for _ in range(2000):
        conf.get("bench.k0")
    out["dynconf_read_us_python"] = round((time.perf_counter() - t0) / 2000 * 1e6, 1)
    # Alternate the two kinds so drift of a shared, noisy machine hits both alike.
    plain, reading = [], []
    for _ in range(2):
        plain.append(median_batch_ms(spark, 0, warmup=10, batches=30))
        reading.append(median_batch_ms(spark, 10, warmup=10, batches=30))
    out["dynconf_10_reads_batch_ratio"] = round(statistics.median(reading) / statistics.median(plain), 3)

    # Marker-file cost per poll, from the counting test file system of the Scala suite.
    out["fs_calls_per_poll"] = fs_calls_per_poll()

    out.update(
        spark_version=spark.version,
        cpu_count=os.cpu_count(),
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        baseline_median_batch_ms=round(baseline, 2),
        plugin_median_batch_ms=round(with_plugin, 2),
        duration_s=round(time.time() - started, 1),
    )
    spark.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    width = max(len(k) for k in out)
    for k, v in out.items():
        print(f"{k.ljust(width)}  {json.dumps(v)}")
    print(f"written to {RESULTS.relative_to(ROOT)}")


def fs_calls_per_poll() -> dict:
    """Run MarkerFaultSuite's counting test; it writes the calls per poll with 1, 10, 100 queries."""
    subprocess.run(
        [str(ROOT / "sbt"), 'jvm/testOnly *MarkerFaultSuite -- -z "one listing per poll"'],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    raw = json.loads((ROOT / "jvm" / "target" / "fs-calls-per-poll.json").read_text())
    return {k: round(v["callsPerPoll"], 2) for k, v in raw.items()}


if __name__ == "__main__":
    if "--baseline" in sys.argv:
        baseline_child()
    else:
        main()
