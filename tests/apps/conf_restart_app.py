"""A notebook's restart, in its own process: a session, spark.stop(), a new session in the same
Python process. Prints one JSON line with what dynamic_conf(spark) read from each driver."""

from __future__ import annotations

import json
import time

import requests
from pyspark.sql import SparkSession

import stopstreaming

TOKEN = "restart-token"


def session() -> SparkSession:
    builder = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
    )
    return stopstreaming.configure(
        builder, rest_port=0, rest_host="127.0.0.1", auth_token=TOKEN
    ).getOrCreate()


def put(spark: SparkSession, key: str, value: str) -> None:
    r = requests.put(
        f"{stopstreaming.control_url(spark)}/api/v1/conf/{key}",
        data=value.encode(),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    r.raise_for_status()


def read(spark: SparkSession, want: str) -> str | None:
    """The value, read until it is `want` or 10 s have passed. An announcement the plugin could not
    hand over within its one second (the process's first callback, on a loaded machine) reaches the
    mirror a moment after the writer's answer; the old driver's value must never come back."""
    deadline = time.monotonic() + 10
    value = stopstreaming.dynamic_conf(spark).get("rate")
    while value != want and time.monotonic() < deadline:
        time.sleep(0.1)
        value = stopstreaming.dynamic_conf(spark).get("rate")
    return value


out: dict = {}
spark = session()
put(spark, "rate", "first-driver")
out["first"] = stopstreaming.dynamic_conf(spark).get("rate")
spark.stop()

spark = session()  # a new SparkContext: a new control plane with an empty store
out["second_before_put"] = stopstreaming.dynamic_conf(spark).get("rate")
put(spark, "rate", "second-driver")
out["second"] = read(spark, "second-driver")
put(spark, "rate", "second-driver-again")
out["second_again"] = read(spark, "second-driver-again")
spark.stop()
print(json.dumps(out), flush=True)
