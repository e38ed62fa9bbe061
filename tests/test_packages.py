"""`spark-submit --packages`: the artifact sbt publishes is the shaded assembly with no dependency,
so it resolves from a Maven repository alone. `make build` publishes it into target/maven-repo, not
~/.m2, and Spark resolves it into an Ivy cache of the test's own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import requests

import stopstreaming
from conftest import examples_jar, free_port, spark_env, wait_for

ROOT = Path(__file__).resolve().parents[1]


def test_published_artifact_runs_with_packages(tmp_path):
    import pyspark

    line = stopstreaming.spark_line(pyspark.__version__)
    # `make build` publishes each line's artifact there with sbt's own publish task.
    repo = ROOT / "target" / "maven-repo"
    version = stopstreaming.__version__
    poms = sorted(repo.glob(f"io/github/stopstreaming/stopstreaming-{line}/{version}/*.pom"))
    assert poms, f"no {line} artifact of {version} in {repo}: run `make build`"
    pom = poms[0].read_text()
    assert "<dependencies>" not in pom, "the published POM must not pull anything in"

    port = free_port()
    log = tmp_path / "app.log"
    cmd = [
        os.path.join(spark_env()["SPARK_HOME"], "bin", "spark-submit"), "--master", "local[2]",
        "--conf", "spark.ui.enabled=false", "--conf", f"spark.jars.ivy={tmp_path / 'ivy'}",
        "--repositories", repo.as_uri(),
        "--packages", f"io.github.stopstreaming:stopstreaming-{line}:{version}",
        "--conf", f"spark.plugins={stopstreaming.PLUGIN_CLASS}",
        "--conf", f"spark.stopstreaming.rest.port={port}",
        "--class", "io.github.stopstreaming.examples.StopStreamingExample", examples_jar(),
        "--name", "from-packages", "--trigger", "1 second",
    ]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=spark_env())
    try:
        wait_for(lambda: "QUERY STARTED" in log.read_text(), timeout=180, what="the app to start")
        r = requests.post(
            f"http://127.0.0.1:{port}/api/v1/queries/from-packages/stop", params={"wait": "60s"}
        )
        assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED", r.text
        assert proc.wait(timeout=120) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
