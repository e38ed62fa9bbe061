"""Stateful workloads stopped every way the control plane stops a query, on every Spark line.

Each workload's query reads event-time files on the RocksDB state store into a non-idempotent sink
and is, in mid-batch: paused and resumed (a managed query), restarted, stopped gracefully and started
again from its checkpoint, then drained (``when=caught-up``). The sink's final content must equal the
same query computed in batch mode over the same input (window boundaries, counts, sums), with no batch
written twice and none cut; and after every stop the checkpoint inspector must say "clean".
``test_the_oracle_catches_a_batch_cut_by_query_stop`` shows that this check fails when a stop cuts.
"""

from __future__ import annotations

import os

import pytest

import stopstreaming
import workloads
from conftest import ended, wait_for

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("mode", ["append", "update"])
def test_tumbling_windows_with_a_watermark(spark, tmp_path, mode):
    workloads.run_every_stop(spark, tmp_path, workloads.windows(mode))


def test_sliding_windows_with_a_watermark(spark, tmp_path):
    workloads.run_every_stop(spark, tmp_path, workloads.windows("append", sliding=True))


@pytest.mark.parametrize("trigger", ["availableNow", "once"])
def test_a_run_to_the_end_stopped_in_mid_batch_is_finished_by_the_next_run(spark, tmp_path, trigger):
    """AvailableNow (one file a batch) stopped after two batches, Once stopped in its one batch: the
    next run of the same trigger carries on from the checkpoint, ends by itself, and the sink holds
    every window once (update mode: AvailableNow runs no trailing no-data batch to emit appends)."""
    workload = workloads.windows("update")
    root, ckpt = str(tmp_path / "in"), str(tmp_path / "ckpt")
    workloads.write_inputs(os.path.join(root, "events"), workload.inputs["events"])
    sink = workloads.JsonSink()
    start = workloads.starter(root, ckpt, workload, sink, trigger={trigger: True})
    q = start(spark)
    workloads.mid_batch(sink, 2 if trigger == "availableNow" else 0, wait_for)
    body = stopstreaming.request_stop(q, wait="60s")
    assert body["stop"]["state"] == "STOPPED" and body["stop"]["mode"] == "graceful", body
    ended(q, what="the stopped query")
    report = stopstreaming.inspect_checkpoint(ckpt)
    assert report["clean"] and not sink.in_flight(), report
    if trigger == "availableNow":
        assert report["lastCommittedBatch"] < len(workload.inputs["events"]), "the stop came before the end"

    q = start(spark)
    ended(q, 120, what=f"the second {trigger} run, which should end by itself,")
    assert q.exception() is None
    assert stopstreaming.inspect_checkpoint(ckpt)["clean"]
    written = sink.batches_written()
    assert len(written) == len(set(written)), f"a batch was written twice: {written}"
    got = workloads.canonical(workloads.final_rows(sink, workload))
    assert got == workloads.canonical(workloads.oracle_rows(spark, root, workload))


@pytest.mark.tooling(
    "checks this file's oracle catches a cut batch; that query.stop() cuts is tested per line"
)
def test_the_oracle_catches_a_batch_cut_by_query_stop(spark, tmp_path):
    workload = workloads.windows("append")
    root, ckpt = str(tmp_path / "in"), str(tmp_path / "ckpt")
    workloads.write_inputs(os.path.join(root, "events"), workload.inputs["events"])
    sink = workloads.JsonSink(seconds=1.5)
    start = workloads.starter(root, ckpt, workload, sink)
    q = start(spark)
    workloads.mid_batch(sink, 2, wait_for)
    q.stop()  # where the graceful stops stand above: Spark's own stop, which does not commit the batch
    assert not stopstreaming.inspect_checkpoint(ckpt)["clean"]
    q = start(spark)
    stopstreaming.request_stop(q, when="caught-up", wait="120s")
    ended(q, what="the drained query")
    written = sink.batches_written()
    assert len(written) > len(set(written)), "the cut batch ran again after the restart"
    got = workloads.canonical(workloads.final_rows(sink, workload))
    assert got != workloads.canonical(workloads.oracle_rows(spark, root, workload)), "the oracle missed it"
