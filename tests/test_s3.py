"""Marker files, stop files and the fleet on an object store: moto's S3 server on 127.0.0.1, reached
by the driver through `s3a://` (hadoop-aws of Spark's Hadoop, fetched from Maven Central and
cached) and by the fleet through fsspec/s3fs. Runs on the default Spark line only (marker `components`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import maven_jars
import pytest
import requests

from conftest import ended, free_port, run_cli, wait_for

pytestmark = [
    pytest.mark.components("moto's S3 server and the hadoop-aws jar of one Spark line's Hadoop, set up once"),
    pytest.mark.timeout(600),
]

BUCKET = "stopstreaming-tests"
SIMPLE_CREDENTIALS = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
# hadoop-aws of the Hadoop that Spark 4.1 ships (3.4.2), with the AWS SDK bundle and the S3 reader
# it names in its POM (non-transitive: Spark already has the rest of Hadoop).
HADOOP_AWS = [
    "org.apache.hadoop:hadoop-aws:3.4.2",
    "software.amazon.awssdk:bundle:2.29.52",
    "software.amazon.s3.analyticsaccelerator:analyticsaccelerator-s3:1.2.1",
]


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """moto's S3 server with one bucket; yields its endpoint. boto3 and s3fs in this process (and
    the CLI it starts) reach it through the AWS_* environment."""
    import boto3

    port = free_port()
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    server = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        wait_for(lambda: _answers(endpoint), timeout=60, what="moto's S3 server")
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.terminate()
        server.wait(timeout=30)


def _answers(endpoint: str) -> bool:
    try:
        requests.get(endpoint, timeout=2)
        return True
    except requests.RequestException:
        return False


def s3a_conf(endpoint: str) -> dict[str, str]:
    return {
        "spark.jars": ",".join(maven_jars.fetch("hadoop-aws", HADOOP_AWS, transitive=False)),
        "spark.hadoop.fs.s3a.endpoint": endpoint,
        "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.aws.credentials.provider": SIMPLE_CREDENTIALS,
        "spark.hadoop.fs.s3a.access.key": "testing",
        "spark.hadoop.fs.s3a.secret.key": "testing",
    }


def _keys(prefix: str) -> list[str]:
    import boto3

    found = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return [o["Key"] for o in found]


def test_markers_stop_files_and_the_fleet_on_s3(s3, start_driver):
    import boto3

    from stopstreaming.fleet import Fleet

    client = boto3.client("s3")
    options = {"rest_port": 0, "rest_host": "127.0.0.1", "fs_stop_dir": f"s3a://{BUCKET}/stop",
               "fs_poll_interval": "200ms", "spark_conf": s3a_conf(s3)}  # fmt: skip
    driver = start_driver(options, "s3-marker", "s3-file", "s3-fleet")

    def q(name: str) -> dict[str, Any]:
        return requests.get(f"{driver.url}/api/v1/queries/{name}", timeout=30).json()

    ids = {name: q(name)["id"] for name in ("s3-marker", "s3-file", "s3-fleet")}
    wait_for(lambda: {f"stop/{i}" for i in ids.values()} <= set(_keys("stop/")), timeout=60,
             what="a marker per query in the bucket")  # fmt: skip
    marker = json.loads(client.get_object(Bucket=BUCKET, Key=f"stop/{ids['s3-fleet']}")["Body"].read())
    assert marker["name"] == "s3-fleet" and marker["controlUrl"] == driver.url

    # The fleet, through fsspec/s3fs: lists every query with its driver, over s3:// and s3a://.
    rows = Fleet(f"s3a://{BUCKET}/stop", None).rows()
    assert {r["name"] for r in rows} >= set(ids) and all(r["reachable"] for r in rows), rows
    out = run_cli(None, "--fleet", f"s3://{BUCKET}/stop", "list", token=None, url="http://127.0.0.1:1")
    assert out.returncode == 0 and "s3-marker" in out.stdout and driver.url in out.stdout, out.stderr

    # Deleting a marker stops its query gracefully.
    client.delete_object(Bucket=BUCKET, Key=f"stop/{ids['s3-marker']}")
    # Not `active`: a graceful stop turns it false at once, while the batch in flight still commits.
    wait_for(
        lambda: not q("s3-marker")["active"] and (q("s3-marker")["stop"] or {}).get("state") != "DRAINING",
        timeout=60, what="the marker's query to end and its stop to finish",
    )  # fmt: skip
    stop = q("s3-marker")["stop"]
    assert stop["state"] == "STOPPED" and stop["mode"] == "graceful" and stop["source"] == "file", stop

    # A <name>.stop file stops by name, and is removed once handled.
    client.put_object(Bucket=BUCKET, Key="stop/s3-file.stop", Body=b'{"mode":"graceful"}')
    wait_for(lambda: not q("s3-file")["active"], timeout=60, what="the stop file's query to end")
    assert q("s3-file")["stop"]["source"] == "file"
    wait_for(lambda: "stop/s3-file.stop" not in _keys("stop/"), timeout=30, what="the stop file to go")

    # The fleet stops a query by name on the driver that runs it.
    out = run_cli(None, "--fleet", f"s3a://{BUCKET}/stop", "stop", "s3-fleet", "--wait", "60s", "--json",
                  token=None, url="http://127.0.0.1:1")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    # The driver ends right after its last query: the answer says how that one stopped.
    stopped = json.loads(out.stdout)
    assert stopped["active"] is False and stopped["stop"]["state"] == "STOPPED", stopped
    assert stopped["stop"]["source"] == "rest", "the fleet reached the driver over HTTP"
    wait_for(
        lambda: "ALL STOPPED" in driver.output(), timeout=60, what="the driver to see every query stopped"
    )
    # Every marker is gone with its query.
    wait_for(lambda: not _markers(), timeout=30, what="the markers to be removed")


def _markers() -> list[str]:
    """Marker keys (`stop/<query id>`): no stop files, no directory marker."""
    return [k for k in _keys("stop/") if k.count("/") == 1 and "." not in k and not k.endswith("/")]


def test_the_checkpoint_inspector_reads_a_checkpoint_on_s3_and_sees_it_change(s3, spark, tmp_path):
    """A real checkpoint (a file source run to its end with AvailableNow), copied to the bucket: the
    inspector reads it over s3:// and s3a://, and a batch planned after a first read is seen by the
    next one (no listing is kept from an earlier read)."""
    import boto3

    import stopstreaming

    src, ckpt = tmp_path / "in", tmp_path / "ckpt"
    src.mkdir()
    (src / "rows.txt").write_text("a\nb\n")
    q = (
        spark.readStream.format("text").load(str(src)).writeStream.format("noop")
        .option("checkpointLocation", str(ckpt)).trigger(availableNow=True).start()
    )  # fmt: skip
    ended(q, 120)
    client = boto3.client("s3")
    for path in ckpt.rglob("*"):
        if path.is_file():
            client.put_object(Bucket=BUCKET, Key=f"ckpt/{path.relative_to(ckpt)}", Body=path.read_bytes())

    local = stopstreaming.inspect_checkpoint(str(ckpt))
    for url in (f"s3://{BUCKET}/ckpt", f"s3a://{BUCKET}/ckpt"):
        remote = stopstreaming.inspect_checkpoint(url)
        assert {k: v for k, v in remote.items() if k != "path"} == {
            k: v for k, v in local.items() if k != "path"
        }
    assert local["clean"] and local["lastCommittedBatch"] == 0, local

    # As a running query would: the next batch planned, not yet committed.
    client.put_object(Bucket=BUCKET, Key="ckpt/offsets/1", Body=(ckpt / "offsets" / "0").read_bytes())
    again = stopstreaming.inspect_checkpoint(f"s3://{BUCKET}/ckpt")
    assert again["restartReruns"]["batch"] == 1 and not again["clean"], again
