"""The Python API of the seed: await_external_termination, its configs, and load_config."""

from __future__ import annotations

import os
import threading

import pytest
import requests
from pyspark.errors import StreamingQueryException

import stopstreaming
from conftest import TOKEN, free_port, start_noop, wait_for


def _await_in_thread(query, config=None):
    box: dict = {}

    def run():
        try:
            stopstreaming.await_external_termination(query, config)
            box["returned"] = True
        except BaseException as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


@pytest.mark.smoke
def test_returns_after_an_http_stop_with_the_plugin_settings(spark, api):
    q = start_noop(spark, name="await-default")
    t, box = _await_in_thread(q)
    assert api.post("/api/v1/queries/await-default/stop", params={"wait": "30s"}).status_code == 200
    t.join(30)
    assert box == {"returned": True}


def test_rest_stop_config_on_a_second_port(spark, api):
    port = free_port()
    q = start_noop(spark)
    t, box = _await_in_thread(q, stopstreaming.RestStopConfig(port=port))
    url = f"http://127.0.0.1:{port}/stop/{q.id}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = wait_for(lambda: _try_post(url, auth), what="the second port to serve the query")
    assert r.status_code == 200 and r.json()["id"] == str(q.id)
    t.join(30)
    assert box == {"returned": True}
    wait_for(lambda: _try_post(url, auth) is None, what="the second port to close with its last query")


def _try_post(url, headers):
    try:
        return requests.post(url, headers=headers, timeout=5)
    except requests.ConnectionError:
        return None


def test_file_system_stop_config(spark, tmpdir_path):
    q = start_noop(spark)
    t, box = _await_in_thread(q, stopstreaming.FileSystemStopConfig(tmpdir_path))
    marker = os.path.join(tmpdir_path, str(q.id))
    wait_for(lambda: os.path.exists(marker), what="marker")
    os.remove(marker)
    t.join(30)
    assert box == {"returned": True}


def test_rethrows_the_query_failure(spark):
    def boom(df, batch_id):
        raise RuntimeError("sink is down")

    q = spark.readStream.format("rate").load().writeStream.foreachBatch(boom).start()
    with pytest.raises(StreamingQueryException, match="sink is down"):
        stopstreaming.await_external_termination(q)


def test_bad_arguments_are_our_errors(spark, tmpdir_path):
    q = start_noop(spark)
    with pytest.raises(stopstreaming.ConfigurationError, match="RestStopConfig, a FileSystemStopConfig"):
        stopstreaming.await_external_termination(q, {"port": 1})
    with pytest.raises(stopstreaming.ConfigurationError, match="stop_path"):
        stopstreaming.RestStopConfig(stop_path="stop")
    with pytest.raises(stopstreaming.ConfigurationError, match="port"):
        stopstreaming.RestStopConfig(port=70000)
    with pytest.raises(stopstreaming.ConfigurationError, match="fs_type"):
        stopstreaming.FileSystemStopConfig("/x", fs_type="S3")
    assert q.isActive
    q.stop()


def test_a_stop_dir_whose_file_system_fails_is_our_error_and_the_query_runs_on(spark):
    # An HDFS name node that refuses connections (a free port on loopback), asked once, not ten times.
    hadoop = spark._jsc.hadoopConfiguration()
    hadoop.set("ipc.client.connect.max.retries", "0")
    q = start_noop(spark, "unreachable-stop-dir")
    try:
        config = stopstreaming.FileSystemStopConfig(f"hdfs://127.0.0.1:{free_port()}/stop")
        with pytest.raises(stopstreaming.StopDirUnavailableError, match="stop directory") as e:
            stopstreaming.await_external_termination(q, config)
        assert isinstance(e.value, OSError)
        assert q.isActive
    finally:
        q.stop()
        hadoop.unset("ipc.client.connect.max.retries")


def test_load_config_reads_hocon(spark, tmpdir_path):
    path = os.path.join(tmpdir_path, "stop.conf")
    with open(path, "w") as f:
        f.write('stopstreaming { backend = "rest", rest { port = 9100, stop-path = "/halt" } }')
    assert stopstreaming.load_config(path) == stopstreaming.RestStopConfig("0.0.0.0", 9100, "/halt")
    with open(path, "w") as f:
        f.write(
            'stopstreaming { backend = "filesystem", filesystem { stop-dir = "/mnt/s", fs-type = "DBFS" } }'
        )
    assert stopstreaming.load_config(path) == stopstreaming.FileSystemStopConfig(
        "/mnt/s", stopstreaming.FsType.DBFS
    )
    with open(path, "w") as f:
        f.write('stopstreaming { backend = "rest", rest { port = "eighty" } }')
    with pytest.raises(stopstreaming.ConfigurationError, match="stopstreaming.rest.port"):
        stopstreaming.load_config(path)


def test_the_stop_path_rule_is_the_plugins(spark):
    from stopstreaming.config import stop_path_error

    rule = spark._jvm.io.github.stopstreaming.core.StopPaths
    samples = ["/stop", "/ops/stop", "stop", "/stop/", "/", "//x", "/a/../b", "/./x", "/api", "/api/v1",
               "/apix", "/st op", "/é", "/a~b.c_d-e"]  # fmt: skip
    for p in samples:
        assert (stop_path_error(p) is None) == rule.check(p).isRight(), p
