"""HTTP figures: wrk load on health, the listing and one query with 100 and 500 registered queries,
the driver's threads, and graceful stops of idle queries over HTTP (client's wait, driver's record, GC).
The 500-query part also times marker-file stops (markers.py), since it has the 500 queries running."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import datetime

import markers
import requests
from harness import TOKEN, idle_query, stage, wait_until
from stats import dist


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
    markers.marker_stop_figures(queries[-20:-10], stop_dir, out)
    stage("stopping the 500 queries")
    for q in queries:
        if q.isActive:
            q.stop()
