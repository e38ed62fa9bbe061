"""`make bench`: figures measured side by side in one run on a local Spark; prints a progress line
per stage, then a table, and writes bench/results/latest.json. HTTP load comes from wrk (a real
load generator, installed by `make setup`). Keep the machine otherwise idle for stable numbers."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import requests

import stopstreaming

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # keep Spark's own traffic on loopback
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv (pandas, pyarrow)
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


def session(plugin: bool, stop_dir: str | None = None, jar_only: bool = False):
    from pyspark.sql import SparkSession

    b = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
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
    if jar_only:  # the jar on the class path, no plugin: the control plane starts at the first API call
        b = b.config("spark.jars", stopstreaming.jar_path())
    s = b.getOrCreate()
    s.sparkContext.setLogLevel("ERROR")
    return s


def idle_query(spark, name=None, trigger="1 minute", wait=True):
    w = spark.readStream.format("rate").load().writeStream.format("noop").trigger(processingTime=trigger)
    q = (w.queryName(name) if name else w).start()
    while wait and (q.lastProgress is None or q.status["isTriggerActive"]):
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


def named_threads(spark):
    """NamedThreads.count of the driver (the class lived in `control` before 0.2, for before/after runs)."""
    from py4j.java_gateway import JavaClass

    for pkg in ("core", "control"):
        cls = getattr(spark._jvm.io.github.stopstreaming, pkg).NamedThreads
        if isinstance(cls, JavaClass):
            return cls.count
    raise SystemExit("no NamedThreads class in the driver")


def gc_ms(spark) -> float:
    """Milliseconds the driver JVM has spent in garbage collection so far."""
    beans = spark._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    return float(sum(b.getCollectionTime() for b in beans))


def stop_record_ms(url: str, headers: dict, query_id) -> float:
    """Request to end of a stop as the driver recorded it (`requestedAt` to `completedAt`)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        stop = requests.get(f"{url}/api/v1/queries/{query_id}", headers=headers, timeout=30).json()["stop"]
        if stop and stop.get("completedAt"):
            t0, t1 = (_instant(stop[k]) for k in ("requestedAt", "completedAt"))
            return (t1 - t0).total_seconds() * 1000
        time.sleep(0.01)
    raise SystemExit(f"query {query_id}: its stop was never recorded as finished")


def _instant(text: str) -> datetime:
    """A Java Instant's text (up to 9 fraction digits, 'Z') as a datetime, on every Python 3.9+."""
    m = re.fullmatch(r"(.*?)(?:\.(\d+))?Z", text)
    return datetime.fromisoformat(f"{m.group(1)}.{(m.group(2) or '').ljust(6, '0')[:6]}+00:00")


def stage(name: str) -> None:
    """One progress line per stage: the run takes minutes."""
    print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)


def wrk(url: str, path: str, token: str, seconds: int = 8) -> dict:
    """Requests per second and mean latency of `wrk -t2 -c8` on one path (a real load generator)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make setup` installs it (Debian package wrk)")
    r = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", url + path],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", r.stdout).group(1))
    lat = re.search(r"Latency\s+([\d.]+)(us|ms|s)", r.stdout)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[lat.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    return {"rps": round(rps, 1), "mean_latency_ms": round(float(lat.group(1)) * scale, 3),
            "non_2xx": int(errors.group(1)) if errors else 0}  # fmt: skip


def http_figures(spark, url: str, stop_dir: str, out: dict) -> None:
    h = {"Authorization": f"Bearer {TOKEN}"}
    count = named_threads(spark)
    queries, threads = [], {}
    stage("starting 100 idle queries (10-minute trigger)")
    for target in (1, 10, 100):
        while len(queries) < target:
            queries.append(idle_query(spark, f"idle-{len(queries)}", "10 minutes"))
        time.sleep(1)
        threads[f"q{target}"] = int(count())
    stage("wrk: health, all queries, one query by name (100 registered)")
    health = wrk(url, "/api/v1/health", TOKEN)
    listing = wrk(url, "/api/v1/queries", TOKEN)
    one = wrk(url, "/api/v1/queries/idle-50", TOKEN)
    out["http"] = {"health": health, "queries_100": listing, "query_100": one}
    out["health_rps"] = health["rps"]
    out["queries_rps_100"] = listing["rps"]
    out["query_rps_100"] = one["rps"]
    out["rps_ratio_queries_to_health"] = round(listing["rps"] / health["rps"], 3)
    out["http_queries_rps"] = listing["rps"]  # the key of earlier runs, now measured by wrk
    out["http_error_count"] = health["non_2xx"] + listing["non_2xx"] + one["non_2xx"]
    out["plugin_threads_after_load"] = int(count())

    stage("graceful stop of an idle query over HTTP, n=100 (after one first stop, reported apart)")
    idle, server = [], []
    gc0 = gc_ms(spark)
    for i in range(101):
        q = idle_query(spark, f"stop-idle-{i}", "1 minute")
        t0 = time.perf_counter()
        requests.post(f"{url}/api/v1/queries/{q.id}/stop", headers=h, timeout=30)
        q.awaitTermination()
        idle.append((time.perf_counter() - t0) * 1000)
        server.append(stop_record_ms(url, h, q.id))
    # The driver's first stop loads the stop path's classes; it is a one-time cost, not a stop's.
    out["rest_stop_idle_first_ms"] = round(idle[0], 2)
    out["rest_stop_idle_ms"] = dist(idle[1:], 50, 90, 99)
    # Where a stop's time goes: the driver's own record (request to STOPPED, which includes Spark's
    # StreamingQuery.stop()), and the driver's garbage collection during the 101 stops.
    out["rest_stop_idle_server_ms"] = dist(server[1:], 50, 90, 99)
    out["rest_stop_idle_gc_ms"] = round(gc_ms(spark) - gc0, 1)

    stage("scale: 500 registered idle queries")
    while len(queries) < 500:
        queries.append(idle_query(spark, f"idle-{len(queries)}", "10 minutes", wait=False))
    wait_until(lambda: all(q.lastProgress is not None for q in queries), 600)
    time.sleep(2)
    threads["q500"] = int(count())
    out["plugin_threads"] = threads
    listing500 = wrk(url, "/api/v1/queries", TOKEN)
    one500 = wrk(url, "/api/v1/queries/idle-450", TOKEN)
    out["http"]["queries_500"], out["http"]["query_500"] = listing500, one500
    out["queries_rps_500"] = listing500["rps"]
    out["query_rps_500"] = one500["rps"]
    stop500 = []
    for q in queries[-10:]:
        t0 = time.perf_counter()
        requests.post(f"{url}/api/v1/queries/{q.name}/stop", headers=h, timeout=30)
        q.awaitTermination()
        stop500.append((time.perf_counter() - t0) * 1000)
    out["rest_stop_idle_ms_500"] = dist(stop500, 50, 90)
    fs = []
    for q in queries[-20:-10]:
        marker = os.path.join(stop_dir, str(q.id))
        wait_until(lambda m=marker: os.path.exists(m), 60)
        t0 = time.perf_counter()
        os.remove(marker)
        q.awaitTermination()
        fs.append((time.perf_counter() - t0) * 1000)
    out["fs_stop_ms_500"] = {**dist(fs, 50, 90), "poll_interval_ms": POLL_MS}
    stage("stopping the 500 queries")
    for q in queries:
        if q.isActive:
            q.stop()


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


def port_ready_child(way: str) -> None:
    """Run in a fresh driver (no plugin, so the first call starts the control plane, as with the
    0.x library): call the 0.x API's REST attach on a free port, from a thread as the 0.x tests do
    from a Future, and time until the port accepts a connection and until a POST is answered.
    `previous` starts the control plane first, then binds the port (the order before this change).
    The machine is loaded meanwhile: two busy processes, one per core, plus the running query."""
    import socket

    spark = session(plugin=False, jar_only=True)
    q = spark.readStream.format("rate").load().writeStream.format("noop").start()
    wait_until(lambda: q.lastProgress is not None, 120)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    jvm, jspark, jsq = spark._jvm, spark._jsparkSession, q._jsq
    pkg = jvm.io.github.stopstreaming

    # The JVM method is looked up before the clock starts (Py4J resolves a name in several round
    # trips, 20-40 ms on the loaded machine): the figure is the call's, as a JVM caller sees it.
    attach_rest, runtime_for = pkg.plugin.SessionAttach.attachRest, pkg.plugin.SessionAttach.runtimeFor

    def attach() -> None:
        if way == "early":  # what awaitExternalTermination(RestStopConfig(port)) runs
            attach_rest(jspark, jsq, "0.0.0.0", port, "/stop", "0.0.0.0")
        else:
            rt = runtime_for(jspark)
            rt.attachRest(rt.plane().register(jsq), "0.0.0.0", port, "/stop", "0.0.0.0")

    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        time.sleep(0.3)
        t0 = time.perf_counter()
        threading.Thread(target=attach, daemon=True).start()
        while True:
            with socket.socket() as c:
                if c.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.0005)
        listening = (time.perf_counter() - t0) * 1000
        r = requests.post(f"http://127.0.0.1:{port}/stop/{q.id}", timeout=60)
        answered = (time.perf_counter() - t0) * 1000
    finally:
        for b in busy:
            b.kill()
    q.awaitTermination()
    figures = {"listening_ms": round(listening, 2), "answered_ms": round(answered, 2)}
    figures["status"] = r.status_code
    print(json.dumps(figures))
    spark.stop()


def port_ready_figures(out: dict, samples: int = 7) -> None:
    """Call to listening port of the 0.x API's REST config, each sample in a fresh loaded driver."""
    runs: dict[str, list[dict]] = {"early": [], "previous": []}
    for i in range(samples):
        for way in runs:  # alternated, so drift on the machine hits both ways alike
            stage(f"port readiness: {way} ({i + 1}/{samples})")
            child = subprocess.run([sys.executable, __file__, "--port-ready", way],
                                   capture_output=True, text=True, check=True)  # fmt: skip
            runs[way].append(json.loads(child.stdout.strip().splitlines()[-1]))
    fig = {}
    for way, rs in runs.items():
        fig[way] = {
            "listening_ms": dist([r["listening_ms"] for r in rs], 50, 90),
            "answered_ms": dist([r["answered_ms"] for r in rs], 50, 90),
            "statuses": sorted({r["status"] for r in rs}),
        }
    fig["listening_ratio_previous_to_early"] = round(
        fig["previous"]["listening_ms"]["p50"] / max(fig["early"]["listening_ms"]["p50"], 0.01), 1
    )
    out["port_ready"] = fig


def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting")
        time.sleep(0.05)


def ratio_interval(a: list[float], b: list[float], draws: int = 2000) -> tuple[float, float]:
    """A 95% bootstrap interval of median(a) / median(b): how far noise alone moves the ratio."""
    import random

    rng = random.Random(7)
    ratios = sorted(
        statistics.median(rng.choices(a, k=len(a))) / statistics.median(rng.choices(b, k=len(b)))
        for _ in range(draws)
    )
    return round(ratios[int(0.025 * draws)], 3), round(ratios[int(0.975 * draws)], 3)


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


def checkpoint_figures(spark, url: str, out: dict, batches: int = 10_000) -> None:
    """The checkpoint inspector on a checkpoint of ``batches`` batches: a real windowed count on RocksDB
    stopped gracefully, its offsets and commits logs then extended with copies of its last entries
    (Spark itself keeps only the last 100), read from local disk and from moto's S3 server."""
    from pyspark.sql import functions as F

    stage(f"checkpoint inspector: {batches:,} batches, local disk and S3")
    root = tempfile.mkdtemp(prefix="bench-ckpt-")
    ckpt = os.path.join(root, "ckpt")
    provider = "spark.sql.streaming.stateStore.providerClass"
    spark.conf.set(provider, "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider")
    q = (
        spark.readStream.format("rate").option("rowsPerSecond", 50).load()
        .withWatermark("timestamp", "5 seconds").groupBy(F.window("timestamp", "10 seconds")).count()
        .writeStream.outputMode("update").format("noop").option("checkpointLocation", ckpt)
        .trigger(processingTime="100 milliseconds").start()
    )  # fmt: skip
    spark.conf.unset(provider)
    wait_until(lambda: (q.lastProgress or {}).get("batchId", 0) >= 5, 120)
    stopstreaming.request_stop(q, wait="60s")
    q.awaitTermination()
    last = max(int(n) for n in os.listdir(os.path.join(ckpt, "offsets")) if n.isdigit())
    for log in ("offsets", "commits"):
        with open(os.path.join(ckpt, log, str(last)), "rb") as f:
            body = f.read()
        for b in range(last + 1, batches):
            with open(os.path.join(ckpt, log, str(b)), "wb") as f:
                f.write(body)

    def timed(path: str, runs: int) -> list[float]:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            report = stopstreaming.inspect_checkpoint(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert report["lastPlannedBatch"] == batches - 1 and report["clean"], report
        return times

    local = timed(ckpt, 7)
    t0 = time.perf_counter()
    script = shutil.which("stopstreaming", path=os.path.dirname(sys.executable)) or "stopstreaming"
    cli = subprocess.run([script, "checkpoint", ckpt], capture_output=True, text=True)
    cli_ms = (time.perf_counter() - t0) * 1000
    assert cli.returncode == 0, cli.stderr
    out["checkpoint_inspect_local_ms"] = {"batches": batches, **dist(local, 50, 90)}
    out["checkpoint_cli_local_ms"] = round(cli_ms, 1)
    out["checkpoint_inspect_s3_ms"] = _inspect_on_s3(ckpt, batches, timed)
    shutil.rmtree(root, ignore_errors=True)


def _inspect_on_s3(ckpt: str, batches: int, timed) -> dict | None:
    """Upload the checkpoint to moto's S3 server on 127.0.0.1 and time the inspector over s3://."""
    import socket
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    server = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        wait_until(lambda: _http_answers(env["AWS_ENDPOINT_URL"]), 60)
        client = boto3.client("s3")
        client.create_bucket(Bucket="bench")
        files = [os.path.join(d, f) for d, _, fs in os.walk(ckpt) for f in fs]

        def put(path: str) -> None:
            with open(path, "rb") as f:
                client.put_object(Bucket="bench", Key="ckpt/" + os.path.relpath(path, ckpt), Body=f.read())

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, files))
        times = timed("s3://bench/ckpt", 3)
        return {"batches": batches, "objects": len(files), **dist(times, 50)}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.terminate()
        server.wait(timeout=30)


def _http_answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
        return True
    except requests.RequestException:
        return False


def main() -> None:
    started = time.time()
    out: dict = {}
    stop_dir = tempfile.mkdtemp(prefix="bench-stop-")

    stage("baseline: batch time in a driver without the plugin")
    child = subprocess.run(
        [sys.executable, __file__, "--baseline"], capture_output=True, text=True, check=True
    )
    baseline = json.loads(child.stdout.strip().splitlines()[-1])["median_batch_ms"]

    port_ready_figures(out)

    spark = session(plugin=True, stop_dir=stop_dir)
    url = stopstreaming.control_url(spark)

    http_figures(spark, url, stop_dir, out)

    stage("batch time with the plugin")
    with_plugin = median_batch_ms(spark)
    out["batch_overhead_ratio"] = round(with_plugin / baseline, 3)

    replay_figures(spark, url, out)
    dynconf_figures(spark, url, out)
    lifecycle_figures(spark, url, out)
    checkpoint_figures(spark, url, out)
    stateful_stop_figures(spark, url, out)

    stage("Scala read of a dynamic value (sbt, test sources)")
    try:
        out["dynconf_read_ns_scala"] = scala_read_ns()
    except (subprocess.CalledProcessError, StopIteration):
        out["dynconf_read_ns_scala"] = None  # a tree without the read benchmark (a before/after run)
    stage("marker-file calls per poll (sbt, MarkerFaultSuite)")
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
    report(out, RESULTS)


def commit() -> str | None:
    """The commit the figures were measured on (with '+' when the tree had changes), for the side-by-side."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "jvm", "python"], cwd=ROOT,
                               capture_output=True, text=True)  # fmt: skip
        return head.stdout.strip() + ("+" if dirty.stdout.strip() else "") if head.returncode == 0 else None
    except OSError:
        return None


def report(out: dict, path: Path) -> None:
    """Writes the figures and prints each beside the previous run's (kept as previous.json), so a change's
    effect is read side by side: the previous run is the tree before the change when it was run there."""
    out.setdefault("commit", commit())
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    if previous:
        (path.parent / "previous.json").write_text(json.dumps(previous, indent=2))
    path.write_text(json.dumps(out, indent=2))
    width = max(len(k) for k in out)
    since = f"{previous.get('commit')}, {previous.get('timestamp')}"
    print(f"{'figure'.ljust(width)}  now  |  previous run ({since})")
    for k, v in out.items():
        was = f"  |  {json.dumps(previous[k])}" if k in previous and previous[k] != v else ""
        print(f"{k.ljust(width)}  {json.dumps(v)}{was}")
    print(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def fs_calls_per_poll() -> dict:
    """Run MarkerFaultSuite's counting test; it writes the calls per poll with 1, 10, 100 queries."""
    subprocess.run(
        [str(ROOT / "sbt"), 'jvm/testOnly *MarkerFaultSuite -- -z "one listing per poll"'],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    raw = json.loads((ROOT / "jvm" / "target" / "fs-calls-per-poll.json").read_text())
    return {k: round(v["callsPerPoll"], 2) for k, v in raw.items()}


def only(stage_name: str) -> None:
    """`bench/run.py --only dynconf`: one stage again, its figures merged into the last results."""
    out = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if stage_name == "port-ready":
        port_ready_figures(out)
        out.update(commit=commit(), timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        report(out, RESULTS)
        return
    stop_dir = tempfile.mkdtemp(prefix="bench-stop-")
    spark = session(plugin=True, stop_dir=stop_dir)
    url = stopstreaming.control_url(spark)
    if stage_name == "http":
        http_figures(spark, url, stop_dir, out)
    else:
        stages = {
            "dynconf": dynconf_figures,
            "replays": replay_figures,
            "lifecycle": lifecycle_figures,
            "checkpoint": checkpoint_figures,
            "stateful": stateful_stop_figures,
        }
        stages[stage_name](spark, url, out)
    spark.stop()
    out.update(commit=commit(), timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    report(out, RESULTS)


if __name__ == "__main__":
    if "--baseline" in sys.argv:
        baseline_child()
    elif "--port-ready" in sys.argv:
        port_ready_child(sys.argv[sys.argv.index("--port-ready") + 1])
    elif "--only" in sys.argv:
        only(sys.argv[sys.argv.index("--only") + 1])
    else:
        main()
