"""Run by test_spark_connect.py in its own process: a Spark Connect client whose local server runs
the plugin. Prints one JSON line with what it saw."""

from __future__ import annotations

import json
import sys
import threading
import time

import requests
from pyspark.sql import SparkSession

import stopstreaming

TOKEN = "connect-token"

builder = (
    SparkSession.builder.remote("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
)
spark = stopstreaming.configure(builder, rest_port=0, rest_host="127.0.0.1", auth_token=TOKEN).getOrCreate()
out: dict = {"connect": stopstreaming.is_connect_session(spark)}
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
spark.stop()
print("RESULT " + json.dumps(out))
sys.stdout.flush()
