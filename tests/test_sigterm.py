"""SIGTERM to a spark-submit driver: the batch in flight completes, the process exits, and a restart
from the checkpoint re-runs no batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import stopstreaming
from conftest import batch_in_flight, free_port, read_batch_log, spark_env, wait_for

APP = str(Path(__file__).with_name("apps") / "batch_logger_app.py")
SUBMIT = os.path.join(os.path.dirname(sys.executable), "spark-submit")


def _submit(checkpoint: str, log: str, out, port: int, *extra: str) -> subprocess.Popen:
    return _submit_app(checkpoint, log, out, port, "2", *extra)


def _submit_app(
    checkpoint: str, log: str, out, port: int, batch_seconds: str, *extra: str
) -> subprocess.Popen:
    cmd = [
        SUBMIT,
        "--master", "local[2]",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.shuffle.partitions=2",
        "--jars", stopstreaming.jar_path(),
        "--conf", f"spark.plugins={stopstreaming.PLUGIN_CLASS}",
        "--conf", f"spark.stopstreaming.rest.port={port}",
        *extra,
        APP, checkpoint, log, batch_seconds,
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=spark_env())


@pytest.mark.smoke
def test_sigterm_mid_batch_completes_the_batch_and_restart_repeats_nothing(tmpdir_path):
    checkpoint, log = os.path.join(tmpdir_path, "ckpt"), os.path.join(tmpdir_path, "batches.log")
    with open(os.path.join(tmpdir_path, "run1.out"), "w") as out:
        proc = _submit(checkpoint, log, out, free_port())
        try:
            wait_for(
                lambda: sum(1 for k, _ in read_batch_log(log) if k == "END") >= 1 and batch_in_flight(log),
                timeout=180,
            )
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                with open(os.path.join(tmpdir_path, "run1.out")) as f:
                    raise AssertionError(
                        "the driver did not exit after SIGTERM:\n" + f.read()[-4000:]
                    ) from None
        finally:
            if proc.poll() is None:
                proc.kill()
    first = read_batch_log(log)
    begun = [b for k, b in first if k == "BEGIN"]
    assert begun == [b for k, b in first if k == "END"], f"a batch was cut by SIGTERM: {first}"
    with open(os.path.join(tmpdir_path, "run1.out")) as f:
        assert "JVM shutdown: stopping 1 streaming queries gracefully" in f.read()

    port = free_port()
    with open(os.path.join(tmpdir_path, "run2.out"), "w") as out:
        proc = _submit(checkpoint, log, out, port)
        try:
            wait_for(lambda: len(read_batch_log(log)) > len(first) and not batch_in_flight(log), timeout=180)
            r = requests.post(
                f"http://127.0.0.1:{port}/api/v1/queries/batch-logger/stop", params={"wait": "60s"}
            )
            assert r.status_code == 200, r.text
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    rerun = [b for k, b in read_batch_log(log)[len(first) :] if k == "BEGIN"]
    assert rerun and rerun[0] == max(begun) + 1, f"first run {begun}, restart {rerun}"


def test_sigterm_escalates_a_stop_already_draining_within_its_bound(tmpdir_path):
    # A graceful stop with no timeout is draining a long batch when SIGTERM comes: the drain must not
    # wait for it past spark.stopstreaming.shutdown.timeout, but stop it immediately and let the driver go.
    checkpoint, log = os.path.join(tmpdir_path, "ckpt"), os.path.join(tmpdir_path, "batches.log")
    out_path = os.path.join(tmpdir_path, "run.out")
    port = free_port()
    with open(out_path, "w") as out:
        proc = _submit_app(
            checkpoint, log, out, port, "90", "--conf", "spark.stopstreaming.shutdown.timeout=5s"
        )
        try:
            wait_for(lambda: batch_in_flight(log), timeout=180, what="a long batch in flight")
            r = requests.post(f"http://127.0.0.1:{port}/api/v1/queries/batch-logger/stop", timeout=30)
            assert r.status_code == 202 and r.json()["stop"]["state"] == "DRAINING", r.text
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=80)  # far below the 90 s batch: the driver did not wait for it
        finally:
            if proc.poll() is None:
                proc.kill()
    with open(out_path) as f:
        text = f.read()
    assert "still run after 5000ms; stopping them immediately" in text, text[-3000:]
    assert batch_in_flight(log), f"the 90 s batch was cut, not waited for: {read_batch_log(log)}"
