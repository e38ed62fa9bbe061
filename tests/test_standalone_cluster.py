"""A real Spark standalone cluster on loopback, started from PySpark's own spark-class: a Python
application in client mode and the Scala example in cluster deploy mode (its driver then runs on
the worker), each listed over HTTP and stopped over HTTP and by marker file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

import stopstreaming
from conftest import examples_jar, free_port, spark_env, wait_for

APPS = Path(__file__).with_name("apps")


def _env() -> dict[str, str]:
    return {**spark_env(), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}


def _bin(name: str) -> str:
    return os.path.join(spark_env()["SPARK_HOME"], "bin", name)


def _json(url: str) -> dict | None:
    try:
        return requests.get(url, timeout=5).json()
    except (requests.RequestException, ValueError):
        return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    work = tmp_path_factory.mktemp("cluster")
    port, ui, worker_ui = free_port(), free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    logs = [open(work / "master.log", "w"), open(work / "worker.log", "w")]
    cls = _bin("spark-class")
    procs = [
        subprocess.Popen(
            [
                cls,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui),
            ],
            stdout=logs[0],
            stderr=subprocess.STDOUT,
            env=_env(),
        ),  # fmt: skip
    ]
    try:
        wait_for(lambda: _json(f"http://127.0.0.1:{ui}/json/"), timeout=120, what="the master")
        procs.append(
            subprocess.Popen(
                [
                    cls,
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "2",
                    "--memory",
                    "2g",
                    "--webui-port",
                    str(worker_ui),
                    "--work-dir",
                    str(work / "work"),
                    master_url,
                ],
                stdout=logs[1],
                stderr=subprocess.STDOUT,
                env=_env(),
            )  # fmt: skip
        )
        wait_for(
            lambda: (_json(f"http://127.0.0.1:{ui}/json/") or {}).get("aliveworkers", 0) >= 1,
            timeout=120,
            what="a registered worker",
        )
        yield {"master": master_url, "ui": f"http://127.0.0.1:{ui}", "work": work}
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs:
            f.close()


def _confs(port: int, stop_dir: Path) -> list[str]:
    """The Spark conf of every test application: small, plugin on, both stop signals configured."""
    conf = {
        "spark.ui.enabled": "false",
        "spark.cores.max": "1",
        "spark.executor.memory": "512m",
        "spark.plugins": stopstreaming.PLUGIN_CLASS,
        "spark.stopstreaming.rest.port": str(port),
        "spark.stopstreaming.fs.stopDir": str(stop_dir),
        "spark.stopstreaming.fs.pollInterval": "200ms",
    }
    return [arg for k, v in conf.items() for arg in ("--conf", f"{k}={v}")]


def _driver_java_options() -> list[str]:
    """Spark 3.5 does not give a driver launched by a worker (cluster deploy mode) the JDK 17
    module options that spark-submit gives a client-mode driver; Spark 4 does. Nothing here is
    needed by the plugin itself."""
    import pyspark

    if not pyspark.__version__.startswith("3."):
        return []
    opens = " ".join(
        f"--add-opens=java.base/{p}=ALL-UNNAMED"
        for p in ("java.lang", "java.lang.invoke", "java.io", "java.net", "java.nio", "java.util",
                  "java.util.concurrent", "java.util.concurrent.atomic", "sun.nio.ch", "sun.nio.cs",
                  "sun.security.action", "sun.util.calendar")
    )  # fmt: skip
    return ["--conf", f"spark.driver.extraJavaOptions={opens}"]


def _queries(url: str) -> dict[str, dict]:
    body = _json(f"{url}/api/v1/queries") or {"queries": []}
    return {q["name"]: q for q in body["queries"] if q["active"]}


def _stop_both(url: str, stop_dir: Path, http_name: str, file_name: str) -> None:
    listed = wait_for(lambda: (q := _queries(url)) and {http_name, file_name} <= set(q) and q, timeout=180)
    r = requests.post(f"{url}/api/v1/queries/{http_name}/stop", params={"wait": "60s"}, timeout=90)
    assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED", r.text
    marker = stop_dir / listed[file_name]["id"]
    wait_for(marker.exists, what="the marker of the second query")
    marker.unlink()


def test_python_app_in_client_mode(cluster, tmp_path):
    port, stop_dir = free_port(), tmp_path / "stop"
    url = f"http://127.0.0.1:{port}"
    with open(tmp_path / "app.log", "w") as log:
        proc = subprocess.Popen(
            [_bin("spark-submit"), "--master", cluster["master"], "--deploy-mode", "client",
             "--jars", stopstreaming.jar_path(), *_confs(port, stop_dir), str(APPS / "two_queries_app.py")],
            stdout=log, stderr=subprocess.STDOUT, env=_env(),
        )  # fmt: skip
        try:
            _stop_both(url, stop_dir, "http-q", "file-q")
            assert proc.wait(timeout=120) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "ALL QUERIES STOPPED" in (tmp_path / "app.log").read_text()


def test_scala_example_in_cluster_deploy_mode(cluster, tmp_path):
    port, stop_dir = free_port(), tmp_path / "stop"
    url = f"http://127.0.0.1:{port}"
    submit = subprocess.run(
        [_bin("spark-submit"), "--master", cluster["master"], "--deploy-mode", "cluster",
         "--driver-memory", "512m", *_confs(port, stop_dir), *_driver_java_options(),
         "--jars", stopstreaming.jar_path(),
         "--class", "io.github.stopstreaming.examples.StopStreamingExample", examples_jar(),
         "--name", "clu", "--queries", "2", "--trigger", "1 second", "--batch-ms", "200"],
        capture_output=True, text=True, env=_env(), timeout=180,
    )  # fmt: skip
    assert submit.returncode == 0, submit.stdout[-3000:] + submit.stderr[-3000:]
    _stop_both(url, stop_dir, "clu-1", "clu-2")

    def finished() -> bool:
        state = _json(cluster["ui"] + "/json/") or {}
        drivers = state.get("completeddrivers", [])
        return any(d.get("state") == "FINISHED" for d in drivers)

    wait_for(finished, timeout=180, what="the cluster-mode driver to finish")
    stdout = next(Path(cluster["work"], "work").glob("driver-*/stdout")).read_text()
    assert stdout.count("QUERY STOPPED") == 2, "the driver ran on the worker and saw both stops"
