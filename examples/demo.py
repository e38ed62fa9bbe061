"""`make demo`: a local Spark driver with the plugin, two streaming queries, and the control
server on localhost:8558. It runs until its queries are stopped from outside, then exits 0."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time

import requests
from pyspark.sql import SparkSession

import stopstreaming

PORT = int(os.environ.get("DEMO_PORT", "8558"))


def main() -> int:
    builder = (
        SparkSession.builder.master(os.environ.get("DEMO_MASTER", "local[2]"))
        .appName("stopstreaming-demo")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
    )
    spark = stopstreaming.configure(builder, rest_port=PORT).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    url = stopstreaming.control_url(spark)
    checkpoints = tempfile.mkdtemp(prefix="stopstreaming-demo-")

    def orders(df, batch_id):
        n = df.count()
        print(f"  [demo-orders] batch {batch_id}: {n} rows", flush=True)
        time.sleep(2)  # a slow sink: a graceful stop lets this finish and commit

    rate = spark.readStream.format("rate").option("rowsPerSecond", 10).load()
    q1 = (
        rate.writeStream.queryName("demo-orders")
        .foreachBatch(orders)
        .option("checkpointLocation", f"{checkpoints}/orders")
        .trigger(processingTime="5 seconds")
        .start()
    )
    q2 = (
        rate.writeStream.queryName("demo-clicks")
        .format("noop")
        .option("checkpointLocation", f"{checkpoints}/clicks")
        .trigger(processingTime="1 minute")
        .start()
    )

    print(
        f"""
stopstreaming demo: control server at {url}
  queries: demo-orders ({q1.id}), demo-clicks ({q2.id})

Try this from another terminal:
  curl -s {url}/api/v1/health
  curl -s {url}/api/v1/queries
  curl -s -X POST '{url}/api/v1/queries/demo-orders/stop?wait=30s'    # graceful: the batch finishes
  curl -s -X POST {url}/stop/{q2.id}    # the seed's path
  stopstreaming --url {url} stop demo-clicks --when in:30s    # a scheduled stop, PENDING until then
Or open {url}/ in a browser: the control page, with stop buttons.
The demo exits once both queries have stopped (Ctrl-C stops them gracefully too).
""",
        flush=True,
    )

    def stop_all(*_: object) -> None:
        for q in spark.streams.active:
            requests.post(f"{url}/api/v1/queries/{q.id}/stop", params={"wait": "60s"}, timeout=90)

    signal.signal(signal.SIGTERM, lambda *_: stop_all())
    try:
        while spark.streams.active:
            spark.streams.awaitAnyTermination()
            spark.streams.resetTerminated()
    except KeyboardInterrupt:
        print("stopping the demo queries gracefully...", flush=True)
        stop_all()
    for q in (q1, q2):
        q.awaitTermination()
        print(f"  {q.name}: stopped ({q.status['message']})", flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
