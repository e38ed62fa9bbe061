"""Checkpoint inspector figures: 10,000 batches of a real RocksDB checkpoint, read from local disk, by
the CLI, and from moto's S3 server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import requests
from harness import stage, wait_until
from stats import dist

import stopstreaming


def checkpoint_figures(spark, url: str, out: dict, batches: int = 10_000) -> None:
    """The checkpoint inspector on a checkpoint of ``batches`` batches: a real windowed count on RocksDB
    stopped gracefully, its offsets and commits logs then extended with copies of its last entries
    (Spark itself keeps only the last 100), read from local disk and from moto's S3 server."""
    from pyspark.sql import functions as F

    stage(f"checkpoint inspector: {batches:,} batches, local disk and S3")
    root = tempfile.mkdtemp(prefix="bench-ckpt-")
    ckpt = os.path.join(root, "ckpt")
    provider = "spark.sql.streaming.stateStore.providerClass"
    spark.conf.set(provider, "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider")
    q = (
        spark.readStream.format("rate").option("rowsPerSecond", 50).load()
        .withWatermark("timestamp", "5 seconds").groupBy(F.window("timestamp", "10 seconds")).count()
        .writeStream.outputMode("update").format("noop").option("checkpointLocation", ckpt)
        .trigger(processingTime="100 milliseconds").start()
    )  # fmt: skip
    spark.conf.unset(provider)
    wait_until(lambda: (q.lastProgress or {}).get("batchId", 0) >= 5, 120)
    stopstreaming.request_stop(q, wait="60s")
    q.awaitTermination()
    last = max(int(n) for n in os.listdir(os.path.join(ckpt, "offsets")) if n.isdigit())
    for log in ("offsets", "commits"):
        with open(os.path.join(ckpt, log, str(last)), "rb") as f:
            body = f.read()
        for b in range(last + 1, batches):
            with open(os.path.join(ckpt, log, str(b)), "wb") as f:
                f.write(body)

    def timed(path: str, runs: int) -> list[float]:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            report = stopstreaming.inspect_checkpoint(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert report["lastPlannedBatch"] == batches - 1 and report["clean"], report
        return times

    local = timed(ckpt, 7)
    t0 = time.perf_counter()
    script = shutil.which("stopstreaming", path=os.path.dirname(sys.executable)) or "stopstreaming"
    cli = subprocess.run([script, "checkpoint", ckpt], capture_output=True, text=True)
    cli_ms = (time.perf_counter() - t0) * 1000
    assert cli.returncode == 0, cli.stderr
    out["checkpoint_inspect_local_ms"] = {"batches": batches, **dist(local, 50, 90)}
    out["checkpoint_cli_local_ms"] = round(cli_ms, 1)
    out["checkpoint_inspect_s3_ms"] = _inspect_on_s3(ckpt, batches, timed)
    shutil.rmtree(root, ignore_errors=True)


def _inspect_on_s3(ckpt: str, batches: int, timed) -> dict | None:
    """Upload the checkpoint to moto's S3 server on 127.0.0.1 and time the inspector over s3://."""
    import socket
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    server = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        wait_until(lambda: _http_answers(env["AWS_ENDPOINT_URL"]), 60)
        client = boto3.client("s3")
        client.create_bucket(Bucket="bench")
        files = [os.path.join(d, f) for d, _, fs in os.walk(ckpt) for f in fs]

        def put(path: str) -> None:
            with open(path, "rb") as f:
                client.put_object(Bucket="bench", Key="ckpt/" + os.path.relpath(path, ckpt), Body=f.read())

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, files))
        times = timed("s3://bench/ckpt", 3)
        return {"batches": batches, "objects": len(files), **dist(times, 50)}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.terminate()
        server.wait(timeout=30)


def _http_answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
        return True
    except requests.RequestException:
        return False
