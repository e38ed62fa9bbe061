"""A driver for tests/test_workloads_kafka_async.py: Spark's Kafka source into Spark's Kafka sink with
async progress tracking (``asyncProgressTrackingEnabled``), stopped in mid-batch, then restarted from
its checkpoint in the same driver and run until it has read the whole input, then stopped again.

Each input record's value is its unique id; the query copies it to the output topic, through a slow
Python UDF so that a batch takes long enough to be stopped in its middle. At the end the app reads the
output topic and prints one line ``RESULT <json>``: how often each id landed (as the ids seen more than
once, and the ids missing), the stop answers, and the checkpoint's offsets and commits files.

usage: kafka_async_app.py OPTIONS_JSON
OPTIONS_JSON: bootstrap, source, sink (topics), checkpoint, jars (list), records, max_offsets,
interval_ms, stop_at (the batch to stop in), stop ("graceful" or "query.stop").
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from typing import Any

from app_session import small_session
from pyspark.sql import functions as F

import stopstreaming


def main() -> None:
    o = json.loads(sys.argv[1])
    spark = small_session("kafka-async-app", o["jars"])
    kafka = {"kafka.bootstrap.servers": o["bootstrap"]}

    ids = spark.range(o["records"]).selectExpr("CAST(id AS STRING) AS key", "CAST(id AS STRING) AS value")
    ids.write.format("kafka").options(**kafka).option("topic", o["source"]).save()

    @F.udf("string")
    def slow(v: str) -> str:
        time.sleep(0.004)
        return v

    def start() -> Any:
        return (
            spark.readStream.format("kafka").options(**kafka).option("subscribe", o["source"])
            .option("startingOffsets", "earliest").option("maxOffsetsPerTrigger", o["max_offsets"]).load()
            .select(F.col("key"), slow(F.col("value").cast("string")).alias("value"))
            .writeStream.format("kafka").options(**kafka).option("topic", o["sink"])
            .option("checkpointLocation", o["checkpoint"])
            .option("asyncProgressTrackingEnabled", "true")
            .option("asyncProgressTrackingCheckpointIntervalMs", str(o["interval_ms"]))
            .queryName("kafka-async").start()
        )  # fmt: skip

    def listing() -> dict[str, list[int]]:
        return {
            d: sorted(int(f) for f in os.listdir(os.path.join(o["checkpoint"], d)) if f.isdigit())
            for d in ("offsets", "commits")
        }

    # Run 1: stopped while batch `stop_at` (or a later one) runs, past its planning.
    q = start()
    deadline = time.time() + 120
    while True:
        p, s = q.lastProgress, q.status
        past = p is not None and p["batchId"] >= o["stop_at"] - 1
        if past and s["isTriggerActive"] and s["isDataAvailable"]:
            break
        if time.time() > deadline or q.exception() is not None:
            raise SystemExit(f"no batch in flight: {q.exception()}")
        time.sleep(0.01)
    in_flight = q.lastProgress["batchId"] + 1
    t0 = time.time()
    if o["stop"] == "graceful":
        answer = stopstreaming.request_stop(q, wait="60s")["stop"]
    else:
        q.stop()
        answer = None
    stop_s = time.time() - t0
    first = listing()

    # Run 2: the restart reads what is left, then stops gracefully.
    q = start()
    q.processAllAvailable()
    second_answer = stopstreaming.request_stop(q, wait="60s")["stop"]

    out = spark.read.format("kafka").options(**kafka).option("subscribe", o["sink"]).load()
    seen = Counter(int(r.v) for r in out.selectExpr("CAST(value AS STRING) AS v").collect())
    print("RESULT " + json.dumps({
        "in_flight": in_flight, "stop": answer, "stop_seconds": round(stop_s, 3), "after_stop": first,
        "restart_stop": second_answer, "final": listing(),
        "twice": sorted(v for v, n in seen.items() if n > 1),
        "missing": sorted(set(range(o["records"])) - set(seen)),
        "extra": sorted(set(seen) - set(range(o["records"]))),
    }), flush=True)  # fmt: skip
    spark.stop()


if __name__ == "__main__":
    main()
