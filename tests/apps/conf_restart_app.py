"""A notebook's restart, in its own process: a session, spark.stop(), a new session in the same
Python process. Prints one JSON line with what dynamic_conf(spark) read from each driver."""

from __future__ import annotations

import json

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


out: dict = {}
spark = session()
put(spark, "rate", "first-driver")
out["first"] = stopstreaming.dynamic_conf(spark).get("rate")
spark.stop()

spark = session()  # a new SparkContext: a new control plane with an empty store
out["second_before_put"] = stopstreaming.dynamic_conf(spark).get("rate")
put(spark, "rate", "second-driver")
out["second"] = stopstreaming.dynamic_conf(spark).get("rate")
put(spark, "rate", "second-driver-again")
out["second_again"] = stopstreaming.dynamic_conf(spark).get("rate")
spark.stop()
print(json.dumps(out), flush=True)
