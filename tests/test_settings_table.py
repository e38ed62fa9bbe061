"""configure()'s options are the plugin's settings list, in Python spelling: checked, not copied."""

from __future__ import annotations

import json

import stopstreaming
from stopstreaming.settings import DEFAULT_PORT, DEFAULT_STOP_PATH, KIND_TYPES, OPTIONS


def test_python_options_match_the_declared_settings(spark):
    declared = json.loads(spark._jvm.io.github.stopstreaming.python.PythonFacade.settingsJson())["settings"]
    assert {s["python"]: s["key"] for s in declared} == {name: key for name, (key, _) in OPTIONS.items()}
    for s in declared:
        assert OPTIONS[s["python"]][1] == KIND_TYPES[s["kind"]], s["key"]
    defaults = {s["key"]: s["default"] for s in declared}
    assert (defaults["rest.port"], defaults["rest.stopPath"]) == (
        f"`{DEFAULT_PORT}`",
        f"`{DEFAULT_STOP_PATH}`",
    )


def test_every_option_reaches_the_conf():
    from pyspark.sql import SparkSession

    samples = {bool: True, int: 1, str: "x"}
    secrets = {"auth.token": "auth.tokenFile", "rest.ssl.keyStorePassword": "rest.ssl.keyStorePasswordFile"}
    for name, (key, types) in OPTIONS.items():
        b = SparkSession.Builder()
        stopstreaming.configure(b, **{name: samples[types[0]]})
        # The test looks at what configure() set; configure() itself never reads it.
        if key in secrets:
            assert f"spark.stopstreaming.{key}" not in b._options, f"{name} must not reach the conf"
            with open(b._options[f"spark.stopstreaming.{secrets[key]}"], encoding="utf-8") as f:
                assert f.read() == "x"
        else:
            assert f"spark.stopstreaming.{key}" in b._options, name
