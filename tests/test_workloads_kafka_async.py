"""Kafka source into the Kafka sink with async progress tracking (``asyncProgressTrackingEnabled``),
against a real broker: a graceful stop in mid-batch, a restart from the checkpoint, and every record
exactly once in the output topic.

Async progress tracking writes a batch's offsets and commit only every
``asyncProgressTrackingCheckpointIntervalMs`` (and for the first batch of a run); the batches in
between are committed in memory only. Spark's own end of the query keeps them there: a restart goes
back to the last batch on storage and writes the later batches to the topic a second time (measured on
4.1.4 with a 60 s interval: 597 of 2,000 ids twice after the state flip alone, 398 after
``query.stop()``). The graceful stop writes the last batch's offsets and commit itself once the query
thread has ended (core/AsyncProgress.scala). The checkpoint inspector cannot see this failure (the
files on storage agree with each other either way), so the oracle is the output topic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import maven_jars
import pytest
from test_kafka import kafka, spark_kafka_jars  # noqa: F401 - the broker fixture, shared with test_kafka

import stopstreaming
from conftest import spark_env

pytestmark = pytest.mark.timeout(300)

APP = Path(__file__).parent / "apps" / "kafka_async_app.py"


def run_app(options: dict) -> dict:
    p = subprocess.run([sys.executable, str(APP), json.dumps(options)], capture_output=True, text=True,
                       env=spark_env(), timeout=240)  # fmt: skip
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    assert p.returncode == 0 and lines, (p.stdout + p.stderr)[-4000:]
    return json.loads(lines[-1][len("RESULT ") :])


def test_a_graceful_stop_in_mid_batch_leaves_every_record_once_in_the_topic(kafka, tmp_path):  # noqa: F811
    try:
        jars = spark_kafka_jars()
    except maven_jars.NoRelease as e:
        pytest.skip(f"Spark's Kafka connector is not on Maven Central for this Spark line yet: {e}")
    ckpt = tmp_path / "ckpt"
    # An interval longer than the test: only the first batch of each run is written by Spark.
    r = run_app({"bootstrap": kafka, "source": "async-in", "sink": "async-out", "checkpoint": str(ckpt),
                 "jars": jars, "records": 2000, "max_offsets": 200, "interval_ms": 60000,
                 "stop_at": 3, "stop": "graceful"})  # fmt: skip
    stop, last = r["stop"], r["in_flight"]
    assert stop["state"] == "STOPPED" and stop["mode"] == "graceful" and stop["code"] is None, stop
    # The batch in flight at the request ended and its offsets and commit are on storage.
    assert r["after_stop"]["commits"][-1] == r["after_stop"]["offsets"][-1] >= last, r["after_stop"]
    assert r["restart_stop"]["code"] is None, r["restart_stop"]
    assert not r["missing"] and not r["extra"], f"lost: {r['missing'][:20]}, unknown: {r['extra'][:20]}"
    assert not r["twice"], f"{len(r['twice'])} ids written twice: {r['twice'][:20]}"
    report = stopstreaming.inspect_checkpoint(str(ckpt))
    assert report["clean"], report
    assert report["lastCommittedBatch"] == r["final"]["commits"][-1], report
