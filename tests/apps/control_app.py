"""A driver for tests that need their own control server (no token, TLS, ...): started as a plain
Python process, it builds its session with stopstreaming.configure(), starts the named queries and
prints `READY <control url>`; it exits once every query has been stopped from outside.

usage: control_app.py OPTIONS_JSON NAME [NAME ...]
OPTIONS_JSON: configure() keyword options, plus "batch_seconds" (a foreachBatch sink that sleeps
that long per batch; default: an idle query with a 10-minute trigger), "spark_conf" (more
Spark settings for the builder) and "managed" (a checkpoint root: each query is started with
stopstreaming.manage(), from <root>/<name>, and `MANAGED <name> <state>` is printed).
"""

from __future__ import annotations

import json
import os
import sys
import time

from pyspark.sql import SparkSession

import stopstreaming


def main() -> None:
    # The options come in a file: they may hold a token, which no command line may show.
    with open(sys.argv[1], encoding="utf-8") as f:
        options = json.load(f)
    batch_seconds = options.pop("batch_seconds", None)
    managed_root = options.pop("managed", None)
    spark_conf = {"spark.ui.enabled": "false", **options.pop("spark_conf", {})}
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("control-app")
        .config("spark.sql.shuffle.partitions", "2")
    )
    jars = spark_conf.pop("spark.jars", None)
    for k, v in spark_conf.items():
        builder = builder.config(k, v)
    builder = stopstreaming.configure(builder, **options)
    if jars:  # after configure(), which sets spark.jars, keeping its jar (see docs/api.md)
        builder = builder.config("spark.jars", f"{stopstreaming.jar_path()},{jars}")
    spark = builder.getOrCreate()

    def start(session, name):
        w = session.readStream.format("rate").option("rowsPerSecond", 1).load().writeStream.queryName(name)
        if managed_root:
            w = w.option("checkpointLocation", os.path.join(managed_root, name))
        if batch_seconds is None:
            return w.format("noop").trigger(processingTime="10 minutes").start()

        def sink(df, batch_id):
            print(f"BATCH BEGIN {name} {batch_id}", flush=True)
            time.sleep(float(batch_seconds))
            print(f"BATCH END {name} {batch_id}", flush=True)

        return w.foreachBatch(sink).trigger(processingTime="1 second").start()

    handles = []
    for name in sys.argv[2:]:
        if managed_root:
            h = stopstreaming.manage(spark, name, lambda s, name=name: start(s, name))
            handles.append(h)
            print(f"MANAGED {name} {h.state}", flush=True)
        else:
            start(spark, name)
    print(f"UI {spark.sparkContext.uiWebUrl}", flush=True)
    print(f"READY {stopstreaming.control_url(spark)}", flush=True)
    for h in handles:
        h.await_termination()
    for q in list(spark.streams.active):
        stopstreaming.await_external_termination(q)
    print("ALL STOPPED", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
