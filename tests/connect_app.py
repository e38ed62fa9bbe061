"""Run by test_spark_connect.py in its own process: a Spark Connect client whose local server runs
the plugin. Prints one JSON line with what it saw."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pyspark
import requests
from pyspark.sql import SparkSession

import stopstreaming
from stopstreaming.backend import backend_for_query, backend_for_session

TOKEN = "connect-token"

builder = (
    SparkSession.builder.remote("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
)
if pyspark.__version__.startswith("3."):
    # PySpark 3.5 does not ship the Connect server: fetch it by its Maven coordinates (cached),
    # the same patch release if the registry has it, else the nearest earlier 3.5 one.
    major_minor, patch = pyspark.__version__.rsplit(".", 1)
    jar = None
    for p in range(int(patch), -1, -1):
        jar_dir = Path.home() / ".cache" / "stopstreaming" / f"spark-connect-{major_minor}.{p}"
        if not list(jar_dir.glob("*.jar")):
            subprocess.run(
                ["mvn", "-q", "-B", "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
                 f"-Dartifact=org.apache.spark:spark-connect_2.12:{major_minor}.{p}",
                 f"-DoutputDirectory={jar_dir}"],
                cwd=str(Path.home()), capture_output=True,
            )  # fmt: skip
        jar = next(jar_dir.glob("*.jar"), None)
        if jar:
            break
    assert jar, "no spark-connect_2.12 jar for this Spark 3.5 could be fetched"
builder = stopstreaming.configure(builder, rest_port=0, rest_host="127.0.0.1", auth_token=TOKEN)
if pyspark.__version__.startswith("3."):
    # A spark.jars of one's own, set after configure(), lists the plugin's jar too.
    builder = builder.config("spark.jars", f"{stopstreaming.jar_path()},{jar}")
with warnings.catch_warnings(record=True) as caught:
    spark = builder.getOrCreate()
# A working setup warns about nothing (a CANNOT_MODIFY_CONFIG warning reads like a failure).
out_warnings = [str(w.message)[:200] for w in caught if issubclass(w.category, UserWarning)]
out: dict = {"connect": stopstreaming.is_connect_session(spark), "warnings": out_warnings}
url = stopstreaming.control_url(spark)
out["url"] = url
headers = {"Authorization": f"Bearer {TOKEN}"}

q = spark.readStream.format("rate").load().writeStream.format("noop").queryName("connect-q").start()
deadline = time.monotonic() + 60
names: list = []
while time.monotonic() < deadline:
    names = [
        x["name"]
        for x in requests.get(url + "/api/v1/queries", headers=headers, timeout=10).json()["queries"]
    ]
    if "connect-q" in names:
        break
    time.sleep(0.2)
out["listed"] = names
out["registered_id_matches"] = (
    requests.get(url + "/api/v1/queries/connect-q", headers=headers, timeout=10).json().get("id") == q.id
)
r = requests.post(
    url + "/api/v1/queries/connect-q/stop",
    params={"wait": "30s"},
    headers=headers,
    timeout=60,
)
out["stop_status"] = r.status_code
out["stop_state"] = r.json().get("stop", {}).get("state")
out["active_after"] = q.isActive

# Dynamic configuration from a Connect client goes through the HTTP API.
requests.put(url + "/api/v1/conf/connect.key", data=b"from-http", headers=headers, timeout=10)
out["dynconf_value"] = stopstreaming.dynamic_conf(spark, token=TOKEN).get("connect.key")

# await_external_termination relies on the server's auto-registration, and waits on the query.
q2 = spark.readStream.format("rate").load().writeStream.format("noop").queryName("connect-await").start()
try:
    stopstreaming.await_external_termination(q2, stopstreaming.RestStopConfig(port=9))
except stopstreaming.UnsupportedInSparkConnectError as e:
    out["unsupported_port_error"] = str(e)
# manage() needs the driver to call the recipe back, which a Connect client cannot take: a clear error.
try:
    stopstreaming.manage(spark, "connect-managed", lambda s: None)
except stopstreaming.UnsupportedInSparkConnectError as e:
    out["unsupported_manage_error"] = str(e)
box: dict = {}
t = threading.Thread(target=lambda: box.update(done=stopstreaming.await_external_termination(q2) is None))
t.start()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    r = requests.post(
        url + "/api/v1/queries/connect-await/stop", params={"wait": "30s"}, headers=headers, timeout=60
    )
    if r.status_code == 200:
        break
    time.sleep(0.2)
t.join(60)
out["await_returned"] = box.get("done", False)

# request_stop(wait=) from a Connect client: over HTTP, answered once the conditional stop fired and ended.
q3 = spark.readStream.format("rate").load().writeStream.format("noop").queryName("connect-drain").start()
answer = stopstreaming.request_stop(q3, token=TOKEN, when="batch:1", wait="60s")
out["waited_state"] = (answer.get("stop") or {}).get("state")
out["waited_active_after"] = q3.isActive
# One backend, hence one HTTP client with its kept-alive connections, per session and token.
backend = backend_for_session(spark, TOKEN)
out["one_client"] = (
    backend is backend_for_query(q3, TOKEN) and backend.client() is backend_for_session(spark, TOKEN).client()
)
spark.stop()
print("RESULT " + json.dumps(out))
sys.stdout.flush()
