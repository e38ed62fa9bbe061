"""The session of a test driver run as a script of its own (tests/apps/*_app.py): local, small, quiet,
with the plugin on a free loopback port and extra jars beside the plugin's."""

from __future__ import annotations

from typing import Any


def small_session(app_name: str, jars: list[str]) -> Any:
    from pyspark.sql import SparkSession

    import stopstreaming

    builder = (
        SparkSession.builder.master("local[2]").appName(app_name)
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
    )  # fmt: skip
    builder = stopstreaming.configure(builder, rest_port=0, rest_host="127.0.0.1")
    # After configure(), keeping its jar in the list (see docs/api.md).
    builder = builder.config("spark.jars", ",".join([stopstreaming.jar_path(), *jars]))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
