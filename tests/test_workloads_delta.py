"""Delta Lake as source and sink under every stop (tests/workloads.py's run), in a spark-submit driver
with the Delta release that pairs with the running Spark line (../shared SPARK-FACTS, checked by
running): the JSON sink and the Delta table must both equal the batch query over the source table."""

from __future__ import annotations

import os
import subprocess

import maven_jars
import pyspark
import pytest

import stopstreaming
from conftest import spark_env

pytestmark = pytest.mark.timeout(420)

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps", "delta_app.py")

# Spark line -> the Delta release that runs on it. Delta's version numbers do not follow Spark's: each
# release's POM names the Spark it was built against, and only a run tells (all checked 2026-12-07).
DELTA = {
    "3.5": "io.delta:delta-spark_2.12:3.3.2",
    "4.0": "io.delta:delta-spark_2.13:4.0.1",
    # Built against Spark 4.1.0; Delta 4.1.0 itself fails on 4.1.4 (NoSuchMethodError
    # ParquetToSparkSchemaConverter.<init>), 4.3.1 runs.
    "4.1": "io.delta:delta-spark_2.13:4.3.1",
    "4.2": "io.delta:delta-spark_2.13:4.4.0",  # built against Spark 4.2.0
}
LINE = ".".join(pyspark.__version__.split(".")[:2])
NO_DELTA = {
    "4.3": "no Delta release runs on Spark 4.3 yet: 4.4.0, the newest (built against Spark 4.2.0), fails "
    "in its streaming source with NoSuchMethodError LogicalRDD.<init> (the constructor changed in 4.3)",
}


@pytest.mark.skipif(LINE not in DELTA, reason=NO_DELTA.get(LINE, f"no Delta release pairs with Spark {LINE}"))
def test_delta_source_and_sink_under_every_stop(tmp_path):
    jars = maven_jars.fetch(f"delta-{LINE}", [DELTA[LINE]])
    cmd = [
        os.path.join(spark_env()["SPARK_HOME"], "bin", "spark-submit"), "--master", "local[2]",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension",
        "--conf", "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "--conf", "spark.driver.memory=1g",
        "--jars", ",".join([stopstreaming.jar_path(), *jars]),
        "--conf", f"spark.plugins={stopstreaming.PLUGIN_CLASS}", "--conf", "spark.stopstreaming.rest.port=0",
        APP, str(tmp_path),
    ]  # fmt: skip
    out = tmp_path / "driver.out"
    with open(out, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=spark_env(), timeout=400).returncode
    text = out.read_text()
    assert rc == 0 and "DELTA WORKLOAD OK" in text, text[-4000:]
