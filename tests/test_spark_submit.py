"""The Scala example application under spark-submit: no extra JVM flag, stopped over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import requests

import stopstreaming
from conftest import examples_jar, free_port, spark_env, wait_for

BIN = os.path.dirname(sys.executable)


def test_example_app_under_spark_submit_stops_gracefully(tmpdir_path):
    port = free_port()
    log_path = os.path.join(tmpdir_path, "app.log")
    cmd = [
        os.path.join(BIN, "spark-submit"),
        "--master", "local[2]",
        "--conf", "spark.ui.enabled=false",
        "--conf", f"spark.plugins={stopstreaming.PLUGIN_CLASS}",
        "--conf", f"spark.stopstreaming.rest.port={port}",
        "--jars", stopstreaming.jar_path(),
        "--class", "io.github.stopstreaming.examples.StopStreamingExample",
        examples_jar(),
        "--name", "submitted", "--trigger", "1 second", "--batch-ms", "800",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=spark_env())
    try:
        url = f"http://127.0.0.1:{port}"

        def app_log() -> str:
            with open(log_path) as f:
                return f.read()

        wait_for(lambda: "BATCH END 1" in app_log(), timeout=120, what="two batches")
        r = requests.post(f"{url}/api/v1/queries/submitted/stop", params={"wait": "60s"}, timeout=90)
        assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED", r.text
        assert proc.wait(timeout=120) == 0, app_log()[-3000:]
        out = app_log()
        begins = [ln.split()[2] for ln in out.splitlines() if ln.startswith("BATCH BEGIN")]
        ends = [ln.split()[2] for ln in out.splitlines() if ln.startswith("BATCH END")]
        assert begins == ends, (
            "the batch in flight finished before the app exited:\n"
            + out[out.find("DEBUGEXC") - 3000 :][:6000]
        )
        assert "QUERY STOPPED" in out and "add-exports" not in " ".join(cmd)
    finally:
        if proc.poll() is None:
            proc.kill()
            time.sleep(1)
