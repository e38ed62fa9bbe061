"""A stateful workload of tests/workloads.py in a driver of its own, for spark-submit tests.

usage: workload_app.py ROOT CHECKPOINT SINK_FILE WORKLOAD [--drain]

Runs the workload's query (RocksDB, one input file a batch) into a FileSink until it is stopped (by
SIGTERM, say), or with --drain asks for a graceful stop once caught up and exits when it ended.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyspark.sql import SparkSession  # noqa: E402

import stopstreaming  # noqa: E402
import workloads  # noqa: E402
from conftest import APP_LIFETIME, ended  # noqa: E402


def main() -> None:
    root, checkpoint, sink_path, name = sys.argv[1:5]
    spark = SparkSession.builder.appName(f"workload-{name}").getOrCreate()
    workload = workloads.by_name(name)
    q = workloads.starter(root, checkpoint, workload, workloads.FileSink(sink_path))(spark)
    print(f"QUERY STARTED {q.id}", flush=True)
    if "--drain" in sys.argv:
        answer = stopstreaming.request_stop(q, when="caught-up", wait="120s")
        print(f"DRAINED {answer['stop']['state']}", flush=True)
    ended(q, APP_LIFETIME)


if __name__ == "__main__":
    main()
