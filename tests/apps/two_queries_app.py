"""A PySpark application with two streaming queries, `http-q` and `file-q`; it exits once both
have been stopped from outside. Used by the standalone-cluster tests."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyspark.sql import SparkSession  # noqa: E402

from conftest import APP_LIFETIME, ended  # noqa: E402


def main() -> None:
    spark = SparkSession.builder.appName("two-queries").getOrCreate()
    rate = spark.readStream.format("rate").option("rowsPerSecond", 5).load()
    queries = [
        rate.writeStream.queryName(name).format("noop").trigger(processingTime="1 second").start()
        for name in ("http-q", "file-q")
    ]
    deadline = time.monotonic() + APP_LIFETIME
    for q in queries:
        ended(q, deadline - time.monotonic())
    print("ALL QUERIES STOPPED", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
