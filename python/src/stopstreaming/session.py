"""Wiring a Spark session to the plugin: ``configure(builder)`` and ``control_url(spark)``."""

from __future__ import annotations

import atexit
import os
import re
import tempfile
import warnings
from typing import Any

from stopstreaming.backend import backend_for_session, is_connect_session
from stopstreaming.errors import ConfigurationError, PluginNotLoadedError, StopStreamingError
from stopstreaming.jar import __version__, jar_path, spark_line
from stopstreaming.jvm import PLUGIN_CLASS
from stopstreaming.settings import OPTIONS, PREFIX

__all__ = ["PLUGIN_CLASS", "PluginSettingsIgnoredWarning", "configure", "control_url", "is_connect_session"]

# Spark prepends this list to spark.plugins. Ours goes there, so a spark.plugins of the user's is
# kept as it is, and PySpark's local Spark Connect launcher, which replaces spark.plugins with its
# own plugin, keeps ours too.
_PLUGIN_LIST_KEY = "spark.plugins.defaultList"


class PluginSettingsIgnoredWarning(UserWarning):
    """Plugin settings were given while a SparkContext already runs, so they cannot apply."""


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _append(existing: str | None, item: str) -> str:
    parts = [p.strip() for p in (existing or "").split(",") if p.strip()]
    if item not in parts:
        parts.append(item)
    return ",".join(parts)


# Secrets never go into the Spark conf: PySpark hands every conf entry to the driver JVM as
# `--conf key=value`, which any local user reads in the process list. Each goes into a file only
# this user can read, and the conf names the file.
_SECRET_FILES = {"auth.token": "auth.tokenFile", "rest.ssl.keyStorePassword": "rest.ssl.keyStorePasswordFile"}


def _secret_file(value: str) -> str:
    """Write ``value`` to a new file of mode 0600, removed when this process exits; return its path."""
    fd, path = tempfile.mkstemp(prefix="stopstreaming-secret-")  # created 0600
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value)
    atexit.register(_remove_quietly, path)
    return path


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _settings(options: dict[str, Any]) -> dict[str, str]:
    """Check ``configure()``'s keyword options and spell them as ``spark.stopstreaming.*`` entries."""
    entries: dict[str, str] = {}
    for name, value in options.items():
        if name == "conf":
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise ConfigurationError("option 'conf' must be a dict of initial dynamic values")
            entries.update({f"{PREFIX}conf.{k}": _conf_value(v) for k, v in value.items()})
            continue
        if name not in OPTIONS:
            known = ", ".join(sorted([*OPTIONS, "conf"]))
            raise ConfigurationError(f"unknown option {name!r}; known options: {known}")
        key, types = OPTIONS[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(t.__name__ for t in types)
            raise ConfigurationError(f"option {name!r} must be {wanted}, not {type(value).__name__}")
        if key in _SECRET_FILES:
            entries[PREFIX + _SECRET_FILES[key]] = _secret_file(_conf_value(value))
        else:
            entries[PREFIX + key] = _conf_value(value)
    return entries


def configure(builder: Any, **options: Any) -> Any:
    """Add the plugin jar and class to a ``SparkSession.Builder`` and set ``spark.stopstreaming.*``.

    The jar goes to ``spark.jars`` (after what the driver's conf already lists there) and the plugin
    to ``spark.plugins.defaultList``, so ``spark.plugins`` stays yours. Keyword options are the
    settings in Python spelling, e.g. ``rest_port=0, auth_token_file="/run/secrets/token"``, plus
    ``conf={"key": "value"}`` for initial dynamic values. A secret given by value (``auth_token``,
    ``rest_ssl_key_store_password``) is written to a file of mode 0600 whose path the driver
    gets, so no command line ever holds it. When the driver JVM already runs
    (``spark-submit app.py``, a notebook kernel), the jar is put on its class path here.
    Returns the builder, so calls can be chained.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:  # pragma: no cover - pyspark is missing entirely
        raise StopStreamingError("configure() needs pyspark installed") from e
    if not isinstance(builder, SparkSession.Builder):
        raise ConfigurationError(
            f"configure() takes a SparkSession.Builder (SparkSession.builder), not {type(builder).__name__}"
        )
    entries = _settings(options)
    jar = jar_path()
    # A Spark Connect client applies every builder option to its session as well, and the server
    # answers a static one such as spark.jars with a warning, though the local server it started
    # has the jar: that warning reads like a failure of a working setup, so it is not shown.
    warnings.filterwarnings(
        "ignore",
        message=r"Failed to set spark\.jars to .*" + re.escape(os.path.basename(jar)),
        category=UserWarning,
    )
    driver_conf = _running_driver_conf()
    builder.config("spark.jars", _append(driver_conf.get("spark.jars"), jar))
    builder.config(_PLUGIN_LIST_KEY, _append(driver_conf.get(_PLUGIN_LIST_KEY), PLUGIN_CLASS))
    for key, value in entries.items():
        builder.config(key, value)
    _prepare_running_driver(jar)
    return builder


def _running_driver_conf() -> dict[str, str]:
    """Return the conf of a driver JVM that already runs (spark-submit's ``--conf``), else nothing."""
    from pyspark import SparkConf, SparkContext

    if SparkContext._jvm is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        return {}
    SparkContext._ensure_initialized()
    return dict(SparkConf(loadDefaults=True).getAll())


def _prepare_running_driver(jar: str) -> None:
    """Make the plugin loadable in a driver JVM that already runs, before its SparkContext is made.

    A running SparkContext cannot take a plugin any more: say so, and start the control plane in it
    lazily instead.
    """
    from pyspark import SparkContext

    jvm = SparkContext._jvm
    if jvm is None:
        return  # PySpark starts the JVM itself, with spark.jars on its class path
    if not _plugin_loadable(jvm):
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        try:
            loader.addURL(jvm.java.io.File(jar).toURI().toURL())
        except Exception as e:  # noqa: BLE001 - py4j raises several kinds for a missing method
            raise PluginNotLoadedError(
                "the driver JVM already runs without the stopstreaming jar, and its class loader "
                f"cannot take it now. Start the application with --jars {jar} (or --packages "
                f"io.github.stopstreaming:stopstreaming-{spark_line(_pyspark_version())}:{__version__})"
            ) from e
        if not _plugin_loadable(jvm):
            raise PluginNotLoadedError(f"the stopstreaming jar {jar} could not be loaded in the driver JVM")
    sc = SparkContext._active_spark_context
    if sc is not None:
        from pyspark.sql import SparkSession

        warnings.warn(
            "a SparkContext is already running in this process: a plugin cannot be added to it, and "
            "spark.plugins and spark.stopstreaming.* settings only apply to a new SparkContext. The "
            "control plane runs in the running driver instead (started now if no plugin had), with its "
            "current settings; "
            "stop the context first (spark.stop()) to use yours.",
            PluginSettingsIgnoredWarning,
            stacklevel=3,
        )
        session = SparkSession.getActiveSession() or SparkSession(sc)
        backend_for_session(session).ensure_started()


def _plugin_loadable(jvm: Any) -> bool:
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName(PLUGIN_CLASS, False, loader)
        return True
    except Exception:  # noqa: BLE001 - a Py4JJavaError carrying ClassNotFoundException
        return False


def _pyspark_version() -> str:
    import pyspark

    return str(pyspark.__version__)


def control_url(spark: Any) -> str:
    """Return the URL of the driver's control server (starting the control plane if needed)."""
    return backend_for_session(spark).control_url()
