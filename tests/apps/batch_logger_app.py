"""A PySpark streaming application for spark-submit tests: a rate source into a foreachBatch sink
that logs the begin and end of every batch to a file.

usage: batch_logger_app.py CHECKPOINT LOG [BATCH_SECONDS]
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyspark.sql import SparkSession  # noqa: E402

from conftest import APP_LIFETIME, ended  # noqa: E402


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
    ended(q, APP_LIFETIME)


if __name__ == "__main__":
    main()
