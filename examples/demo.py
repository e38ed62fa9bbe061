"""`make demo`: a local Spark driver with the plugin, two streaming queries, and the control
server on localhost:8558. It runs until its queries are stopped from outside, then exits 0.

In a container (docker/compose.yaml) it runs through spark-submit. The environment may set
DEMO_MASTER, DEMO_PORT, DEMO_CHECKPOINTS (a directory that outlives the run; a new temporary one by
default), DEMO_URL (the control URL as its reader reaches it, for the printed examples) and
STOPSTREAMING_TOKEN."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time

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
    shown = os.environ.get("DEMO_URL", url)
    token = os.environ.get("STOPSTREAMING_TOKEN")
    checkpoints = os.environ.get("DEMO_CHECKPOINTS") or tempfile.mkdtemp(prefix="stopstreaming-demo-")

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

    # The token is named, not shown: `export STOPSTREAMING_TOKEN=...` in the other terminal first.
    auth = ' -H "Authorization: Bearer $STOPSTREAMING_TOKEN"' if token else ""
    print(
        f"""
stopstreaming demo: control server at {shown}
  queries: demo-orders ({q1.id}), demo-clicks ({q2.id})

Try this from another terminal{" (with STOPSTREAMING_TOKEN set to the driver's token)" if token else ""}:
  curl -s{auth} {shown}/api/v1/health
  curl -s{auth} {shown}/api/v1/queries
  curl -s{auth} -X POST '{shown}/api/v1/queries/demo-orders/stop?wait=30s'    # graceful: the batch finishes
  curl -s{auth} -X POST {shown}/stop/{q2.id}    # the 0.x API's path
  stopstreaming --url {shown} stop demo-clicks --when in:30s    # a scheduled stop, PENDING until then
Or open {shown}/ in a browser: the control page, with stop buttons.
The demo exits once both queries have stopped (Ctrl-C or SIGTERM stops them gracefully too).
""",
        flush=True,
    )

    # The handler only raises a flag: the main thread may be inside a Py4J call when the signal
    # comes, and Py4J must not be entered again from a signal handler. (Under spark-submit SIGTERM
    # goes to the JVM instead, whose shutdown hook stops the queries gracefully.)
    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    try:
        while spark.streams.active and not stop_requested.wait(1.0):
            pass
    except KeyboardInterrupt:
        stop_requested.set()
    if stop_requested.is_set():
        print("stopping the demo queries gracefully...", flush=True)
        client = stopstreaming.StopStreamingClient(url, token, timeout=90)
        for q in (q1, q2):
            try:
                client.stop(q.name, wait="60s")
            except stopstreaming.StopStreamingError as e:
                print(f"  {q.name}: {e}", flush=True)
    for q in (q1, q2):
        q.awaitTermination()
        print(f"  {q.name}: stopped ({q.status['message']})", flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
