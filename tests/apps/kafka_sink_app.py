"""A driver for the Kafka test: Spark's own Kafka source into a non-idempotent foreachBatch sink
that appends `<batch id> <value>` lines to a file. It may first produce records (with Spark's Kafka
sink), prints `READY <control url>`, logs `BEGIN n`/`END n` per batch and exits once its query has
been stopped from outside.

usage: kafka_sink_app.py OPTIONS_JSON
OPTIONS_JSON: bootstrap, topic, checkpoint, out, jars (list), produce ([first, count] or null),
max_offsets, batch_seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time

from app_session import small_session

import stopstreaming


def main() -> None:
    o = json.loads(sys.argv[1])
    spark = small_session("kafka-sink-app", o["jars"])
    if o.get("produce"):
        first, count = o["produce"]
        ids = spark.range(first, first + count)
        records = ids.selectExpr("CAST(id AS STRING) AS key", "CAST(id AS STRING) AS value")
        kafka = records.write.format("kafka").option("kafka.bootstrap.servers", o["bootstrap"])
        kafka.option("topic", o["topic"]).save()

    def sink(df, batch_id):
        print(f"BEGIN {batch_id}", flush=True)
        values = [r.value for r in df.selectExpr("CAST(value AS STRING) AS value").collect()]
        time.sleep(float(o["batch_seconds"]))
        # Not idempotent on purpose: a batch run twice shows up twice.
        with open(o["out"], "a") as f:
            f.write("".join(f"{batch_id} {v}\n" for v in values))
            f.flush()
            os.fsync(f.fileno())
        print(f"END {batch_id}", flush=True)

    q = (
        spark.readStream.format("kafka").option("kafka.bootstrap.servers", o["bootstrap"])
        .option("subscribe", o["topic"]).option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", o["max_offsets"]).load()
        .writeStream.foreachBatch(sink).option("checkpointLocation", o["checkpoint"])
        .queryName("kafka-orders").start()
    )  # fmt: skip
    print(f"READY {stopstreaming.control_url(spark)}", flush=True)
    stopstreaming.await_external_termination(q)
    print("STOPPED", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
