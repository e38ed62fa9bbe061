"""Every stop of tests/workloads.py on a Delta Lake workload, in a driver of its own (Delta's jars and
session extension must be there when the JVM starts): a Delta table source, tumbling windows on
RocksDB, a foreachBatch sink that also appends to a Delta table idempotently.

usage: delta_app.py ROOT

Exits 0 when the JSON sink and the Delta table both equal the batch query over the source table.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyspark.sql import SparkSession  # noqa: E402

import workloads  # noqa: E402


def main() -> None:
    root = Path(sys.argv[1])
    spark = SparkSession.builder.appName("workload-delta").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    workload = workloads.delta_windows()
    sink = workloads.DeltaTableSink(table=str(root / "table"))
    workloads.run_every_stop(spark, root, workload, sink)
    from pyspark.sql import functions as F

    table = spark.read.format("delta").load(sink.table)
    got = workloads.canonical([json.loads(r[0]) for r in table.select(F.to_json(F.struct("*"))).collect()])
    expected = workloads.canonical(workloads.oracle_rows(spark, str(root / "in"), workload))
    assert got == expected, f"the Delta table differs from the batch query:\n{got}\n{expected}"
    print(f"DELTA WORKLOAD OK: {len(got)} windows, batches {sink.batches_written()}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
