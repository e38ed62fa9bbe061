"""The jar travels inside the wheel, and the Python side checks it talks to its own version."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

import stopstreaming
from stopstreaming import session as ss

ROOT = Path(__file__).resolve().parents[1]


def test_jar_path_points_at_the_shipped_jar():
    jar = Path(stopstreaming.jar_path())
    assert jar.is_file()
    assert jar.parent.name == "jars" and jar.parent.parent.name == "stopstreaming"
    assert f"-{stopstreaming.__version__}-assembly.jar" in jar.name


def test_wheel_holds_exactly_one_jar():
    wheels = sorted((ROOT / "python" / "dist").glob(f"stopstreaming-{stopstreaming.__version__}-*.whl"))
    assert wheels, "make build writes the wheel to python/dist; make test runs it first"
    names = zipfile.ZipFile(wheels[-1]).namelist()
    jars = [n for n in names if n.endswith(".jar")]
    assert len(jars) == 1 and jars[0].startswith("stopstreaming/jars/"), jars


def test_jar_shades_its_dependencies():
    names = zipfile.ZipFile(stopstreaming.jar_path()).namelist()
    classes = [n for n in names if n.endswith(".class")]
    assert classes and all(n.startswith("io/github/stopstreaming/") for n in classes), [
        n for n in classes if not n.startswith("io/github/stopstreaming/")
    ][:5]


def test_driver_jar_has_the_package_version(spark):
    assert ss.facade(spark).version() == stopstreaming.__version__


def test_a_jar_of_another_version_is_refused(spark, monkeypatch):
    monkeypatch.setattr(ss, "__version__", "9.9.9")
    monkeypatch.setattr(ss, "_checked_gateways", set())
    with pytest.raises(stopstreaming.JarVersionMismatchError, match="9.9.9"):
        ss.facade(spark)


def test_configure_appends_to_existing_jars_and_plugins(spark):
    b = SparkSession.Builder()
    b.config("spark.jars", "/opt/other.jar").config("spark.plugins", "com.example.Other")
    with pytest.warns(ss.PluginSettingsIgnoredWarning, match="only apply to a new SparkContext"):
        stopstreaming.configure(b, rest_port=9000, auto_register=False, stop_timeout="5m")
    opts = b._options
    assert opts["spark.jars"] == f"/opt/other.jar,{stopstreaming.jar_path()}"
    assert opts["spark.plugins"] == f"com.example.Other,{stopstreaming.PLUGIN_CLASS}"
    assert opts["spark.stopstreaming.rest.port"] == "9000"
    assert opts["spark.stopstreaming.autoRegister"] == "false"
    assert opts["spark.stopstreaming.stop.timeout"] == "5m"
    # Configuring twice adds nothing twice.
    with pytest.warns(ss.PluginSettingsIgnoredWarning):
        stopstreaming.configure(b)
    assert opts["spark.plugins"].count(stopstreaming.PLUGIN_CLASS) == 1


def test_configure_checks_its_arguments():
    with pytest.raises(stopstreaming.ConfigurationError, match="SparkSession.Builder"):
        stopstreaming.configure({"spark.master": "local"})
    with pytest.raises(stopstreaming.ConfigurationError, match="unknown option 'rest_prot'"):
        stopstreaming.configure(SparkSession.Builder(), rest_prot=1)
    with pytest.raises(stopstreaming.ConfigurationError, match="'rest_port' must be int"):
        stopstreaming.configure(SparkSession.Builder(), rest_port="8558")
    with pytest.raises(stopstreaming.ConfigurationError, match="'auto_register' must be bool"):
        stopstreaming.configure(SparkSession.Builder(), auto_register=1)
