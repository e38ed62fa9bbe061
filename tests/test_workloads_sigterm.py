"""SIGTERM of a spark-submit driver that runs a stateful workload (tests/workloads.py), in mid-batch,
then a second driver that drains the rest: the sink equals the batch query, nothing written twice."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

import stopstreaming
import workloads
from conftest import spark_env, wait_for

pytestmark = pytest.mark.timeout(300)


APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps", "workload_app.py")


@pytest.mark.parametrize("name", ["tumbling-append", "join-left_outer"])
def test_sigterm_of_the_driver_in_mid_batch_then_a_drain(spark, tmp_path, name):
    """spark-submit runs the workload; SIGTERM in mid-batch lets the batch commit (the inspector says
    clean), and a second driver drains the rest: the sink equals the batch query."""
    workload = workloads.by_name(name)
    root, ckpt, sink_path = str(tmp_path / "in"), str(tmp_path / "ckpt"), str(tmp_path / "sink.jsonl")
    for source, files in workload.inputs.items():
        workloads.write_inputs(os.path.join(root, source), files)

    def submit(*extra: str) -> subprocess.Popen:
        cmd = [
            os.path.join(spark_env()["SPARK_HOME"], "bin", "spark-submit"), "--master", "local[2]",
            "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2",
            "--jars", stopstreaming.jar_path(), "--conf", f"spark.plugins={stopstreaming.PLUGIN_CLASS}",
            "--conf", "spark.stopstreaming.rest.port=0",
            APP, root, ckpt, sink_path, name, *extra,
        ]  # fmt: skip
        out = open(tmp_path / f"driver-{len(extra)}.out", "w")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=spark_env())

    first = submit()
    try:
        wait_for(
            lambda: len(workloads.load_sink(sink_path).batches_written()) >= 2
            and workloads.load_sink(sink_path).written_in_flight(),
            timeout=180, every=0.02, what="two batches, then one in flight",
        )  # fmt: skip
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    sink = workloads.load_sink(sink_path)
    assert not sink.in_flight(), "SIGTERM cut the batch in flight"
    report = stopstreaming.inspect_checkpoint(ckpt)
    assert report["clean"] and report["lastCommittedBatch"] == max(sink.batches_written()), report

    second = submit("--drain")
    try:
        assert second.wait(timeout=240) == 0, (tmp_path / "driver-1.out").read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
    sink = workloads.load_sink(sink_path)
    written = sink.batches_written()
    assert len(written) == len(set(written)), f"a batch was written twice: {written}"
    assert stopstreaming.inspect_checkpoint(ckpt)["clean"]
    got = workloads.canonical(workloads.final_rows(sink, workload))
    assert got == workloads.canonical(workloads.oracle_rows(spark, root, workload))
