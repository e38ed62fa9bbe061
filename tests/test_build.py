"""What a newcomer runs: `make build` does nothing when nothing changed, and tests log quietly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.tooling("make's dependency rules; no Spark runs")
def test_make_build_does_no_work_when_nothing_changed():
    # `make test` built everything just before; a dry run lists what would run again.
    r = subprocess.run(["make", "-n", "build"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "sbt" not in r.stdout and "pip" not in r.stdout, r.stdout


def test_spark_and_the_plugin_log_at_warn_in_tests(spark):
    context = spark._jvm.org.apache.logging.log4j.LogManager.getContext(False)
    source = str(context.getConfiguration().getConfigurationSource().getLocation())
    assert source.endswith("tests/spark-conf/log4j2.properties"), source
