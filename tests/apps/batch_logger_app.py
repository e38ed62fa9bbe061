"""A PySpark streaming application for spark-submit tests: a rate source into a foreachBatch sink
that logs the begin and end of every batch to a file.

usage: batch_logger_app.py CHECKPOINT LOG [BATCH_SECONDS]
"""

from __future__ import annotations

import sys
import time

from pyspark.sql import SparkSession

# It runs until a test stops it; this bound only ends an app whose test died.
LIFETIME_MS = 600_000


def main() -> None:
    checkpoint, log_path = sys.argv[1], sys.argv[2]
    batch_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    spark = SparkSession.builder.appName("batch-logger").getOrCreate()

    def sink(df, batch_id):
        with open(log_path, "a") as f:
            f.write(f"BEGIN {batch_id}\n")
        time.sleep(batch_seconds)
        df.count()
        with open(log_path, "a") as f:
            f.write(f"END {batch_id}\n")

    q = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", 5)
        .load()
        .writeStream.queryName("batch-logger")
        .foreachBatch(sink)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime="500 milliseconds")
        .start()
    )
    # Standalone (the Docker tests mount only this folder), so not conftest.ended: the same wait, for
    # the query's thread, since awaitTermination(timeout) answers early once a graceful stop begins.
    thread = q._jsq.streamingQuery().queryExecutionThread()
    thread.join(LIFETIME_MS)
    if thread.isAlive():
        raise SystemExit(f"batch-logger: not stopped within {LIFETIME_MS // 1000} s")
    q.awaitTermination(1)


if __name__ == "__main__":
    main()
