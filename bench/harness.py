"""What every stage shares: the local Spark session (with or without the plugin), an idle query, the
progress line and a bounded wait."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import stopstreaming

ROOT = Path(__file__).resolve().parents[1]
RUN_PY = Path(__file__).resolve().with_name("run.py")  # the entry point, started again for child drivers
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # keep Spark's own traffic on loopback
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv (pandas, pyarrow)
TOKEN = "bench-token"
POLL_MS = 200


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


def stage(name: str) -> None:
    """One progress line per stage: the run takes minutes."""
    print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)


def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting")
        time.sleep(0.05)
