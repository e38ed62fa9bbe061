"""A driver for tests that need their own control server (no token, TLS, ...): started as a plain
Python process, it builds its session with stopstreaming.configure(), starts the named queries and
prints `READY <control url>`; it exits once every query has been stopped from outside.

usage: control_app.py OPTIONS_JSON NAME [NAME ...]
OPTIONS_JSON: configure() keyword options, plus "batch_seconds" (a foreachBatch sink that sleeps
that long per batch; default: an idle query with a 10-minute trigger) and "spark_conf" (more
Spark settings for the builder).
"""

from __future__ import annotations

import json
import sys
import time

from pyspark.sql import SparkSession

import stopstreaming


def main() -> None:
    options = json.loads(sys.argv[1])
    batch_seconds = options.pop("batch_seconds", None)
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
    rate = spark.readStream.format("rate").option("rowsPerSecond", 1).load()
    for name in sys.argv[2:]:
        w = rate.writeStream.queryName(name)
        if batch_seconds is None:
            w.format("noop").trigger(processingTime="10 minutes").start()
        else:

            def sink(df, batch_id, name=name):
                print(f"BATCH BEGIN {name} {batch_id}", flush=True)
                time.sleep(float(batch_seconds))
                print(f"BATCH END {name} {batch_id}", flush=True)

            w.foreachBatch(sink).trigger(processingTime="1 second").start()
    print(f"UI {spark.sparkContext.uiWebUrl}", flush=True)
    print(f"READY {stopstreaming.control_url(spark)}", flush=True)
    for q in list(spark.streams.active):
        stopstreaming.await_external_termination(q)
    print("ALL STOPPED", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
