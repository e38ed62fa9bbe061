"""The jar travels inside the wheel, and the Python side checks it talks to its own version."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

import stopstreaming
from stopstreaming import jvm as sj
from stopstreaming import session as ss

ROOT = Path(__file__).resolve().parents[1]


def test_jar_path_points_at_the_jar_of_the_installed_pyspark():
    import pyspark

    jar = Path(stopstreaming.jar_path())
    assert jar.is_file()
    assert jar.parent.name == "jars" and jar.parent.parent.name == "stopstreaming"
    line = "spark3_2.12" if pyspark.__version__.startswith("3.") else "spark4_2.13"
    assert jar.name == f"stopstreaming-{line}-{stopstreaming.__version__}-assembly.jar"


@pytest.mark.tooling("which jar the wheel carries and picks; no Spark runs")
@pytest.mark.smoke
def test_jar_choice_by_spark_version():
    assert stopstreaming.spark_line("3.5.8") == "spark3_2.12"
    for v in ("4.0.1", "4.1.4", "4.2.0", "4.3.0"):
        assert stopstreaming.spark_line(v) == "spark4_2.13"
    assert stopstreaming.jar_path("3.5.1").endswith(f"spark3_2.12-{stopstreaming.__version__}-assembly.jar")
    for v in ("3.4.4", "2.4.8", "5.0.0", "banana"):
        with pytest.raises(stopstreaming.UnsupportedSparkVersionError):
            stopstreaming.jar_path(v)


@pytest.mark.tooling("which jar the wheel carries and picks; no Spark runs")
def test_wheel_holds_one_jar_per_spark_line():
    wheels = sorted((ROOT / "python" / "dist").glob(f"stopstreaming-{stopstreaming.__version__}-*.whl"))
    assert wheels, "make build writes the wheel to python/dist; make test runs it first"
    names = zipfile.ZipFile(wheels[-1]).namelist()
    jars = sorted(n for n in names if n.endswith(".jar"))
    v = stopstreaming.__version__
    assert jars == [
        f"stopstreaming/jars/stopstreaming-spark3_2.12-{v}-assembly.jar",
        f"stopstreaming/jars/stopstreaming-spark4_2.13-{v}-assembly.jar",
    ], jars


@pytest.mark.tooling("reads the two jars of the wheel, one per line, from any line")
@pytest.mark.parametrize("spark_version", ["3.5.8", "4.1.4"])
def test_jar_shades_its_dependencies(spark_version):
    names = zipfile.ZipFile(stopstreaming.jar_path(spark_version)).namelist()
    classes = [n for n in names if n.endswith(".class")]
    # Ours, and the few classes that must sit in Spark's package to reach its listener bus and metrics system.
    own = ("io/github/stopstreaming/", "org/apache/spark/stopstreaming/")
    assert classes and all(n.startswith(own) for n in classes), [n for n in classes if not n.startswith(own)][
        :5
    ]


def test_driver_jar_has_the_package_version(spark):
    assert sj.facade_for_jvm(spark._jvm).version() == stopstreaming.__version__


def test_a_jar_of_another_version_is_refused(spark, monkeypatch):
    monkeypatch.setattr(sj, "__version__", "9.9.9")
    monkeypatch.setattr(sj, "_checked_gateways", set())
    with pytest.raises(stopstreaming.JarVersionMismatchError, match="9.9.9"):
        sj.facade_for_jvm(spark._jvm)


def test_configure_keeps_spark_plugins_and_the_drivers_jars(spark):
    # The running driver's conf (here the test session's) is what configure() appends to; the
    # builder's own values are PySpark's private state, which it does not read.
    running_jars = spark.sparkContext.getConf().get("spark.jars")
    b = SparkSession.Builder()
    b.config("spark.plugins", "com.example.Other")
    with pytest.warns(ss.PluginSettingsIgnoredWarning, match="only apply to a new SparkContext"):
        stopstreaming.configure(b, rest_port=9000, auto_register=False, stop_timeout="5m")
    opts = b._options  # the test looks at what configure() set; configure() itself never does
    assert opts["spark.plugins"] == "com.example.Other", "the user's spark.plugins is left alone"
    assert opts["spark.plugins.defaultList"].split(",").count(stopstreaming.PLUGIN_CLASS) == 1
    assert stopstreaming.jar_path() in opts["spark.jars"].split(",")
    assert set(running_jars.split(",")) <= set(opts["spark.jars"].split(","))
    assert opts["spark.stopstreaming.rest.port"] == "9000"
    assert opts["spark.stopstreaming.autoRegister"] == "false"
    assert opts["spark.stopstreaming.stop.timeout"] == "5m"
    # Configuring twice adds nothing twice.
    with pytest.warns(ss.PluginSettingsIgnoredWarning):
        stopstreaming.configure(b)
    assert opts["spark.jars"].split(",").count(stopstreaming.jar_path()) == 1


@pytest.mark.tooling("which jar the wheel carries and picks; no Spark runs")
def test_configure_checks_its_arguments():
    with pytest.raises(stopstreaming.ConfigurationError, match="SparkSession.Builder"):
        stopstreaming.configure({"spark.master": "local"})
    with pytest.raises(stopstreaming.ConfigurationError, match="unknown option 'rest_prot'"):
        stopstreaming.configure(SparkSession.Builder(), rest_prot=1)
    with pytest.raises(stopstreaming.ConfigurationError, match="'rest_port' must be int"):
        stopstreaming.configure(SparkSession.Builder(), rest_port="8558")
    with pytest.raises(stopstreaming.ConfigurationError, match="'auto_register' must be bool"):
        stopstreaming.configure(SparkSession.Builder(), auto_register=1)
