"""A PySpark application with two streaming queries, `http-q` and `file-q`; it exits once both
have been stopped from outside. Used by the standalone-cluster tests."""

from __future__ import annotations

from pyspark.sql import SparkSession


def main() -> None:
    spark = SparkSession.builder.appName("two-queries").getOrCreate()
    rate = spark.readStream.format("rate").option("rowsPerSecond", 5).load()
    for name in ("http-q", "file-q"):
        rate.writeStream.queryName(name).format("noop").trigger(processingTime="1 second").start()
    while spark.streams.active:
        spark.streams.awaitAnyTermination()
        spark.streams.resetTerminated()
    print("ALL QUERIES STOPPED", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
