"""Wiring a Spark session to the plugin: ``configure(builder)``, the JVM facade, ``control_url``."""

from __future__ import annotations

import warnings
from typing import Any, Callable, TypeVar

from stopstreaming.errors import (
    ConfigurationError,
    JarVersionMismatchError,
    PluginNotLoadedError,
    QueryNotFoundError,
    StopStreamingError,
    UnsupportedInSparkConnectError,
)
from stopstreaming.jar import __version__, jar_path

__all__ = ["PLUGIN_CLASS", "configure", "control_url", "is_connect_session"]

T = TypeVar("T")

PLUGIN_CLASS = "io.github.stopstreaming.StopStreamingPlugin"
_FACADE = "io.github.stopstreaming.python.PythonFacade"
_CONNECT_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"

# Keyword options of configure(): python name -> (Spark conf key, accepted Python types).
_OPTIONS: dict[str, tuple[str, tuple[type, ...]]] = {
    "rest_enabled": ("rest.enabled", (bool,)),
    "rest_host": ("rest.host", (str,)),
    "rest_port": ("rest.port", (int,)),
    "rest_stop_path": ("rest.stopPath", (str,)),
    "auth_token": ("auth.token", (str,)),
    "auth_token_file": ("auth.tokenFile", (str,)),
    "stop_mode": ("stop.mode", (str,)),
    "stop_timeout": ("stop.timeout", (str, int)),
    "auto_register": ("autoRegister", (bool,)),
    "registry_retain_terminated": ("registry.retainTerminated", (int,)),
    "fs_stop_dir": ("fs.stopDir", (str,)),
    "fs_poll_interval": ("fs.pollInterval", (str, int)),
}


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


def configure(builder: Any, **options: Any) -> Any:
    """Add the plugin jar and class to a ``SparkSession.Builder`` and set ``spark.stopstreaming.*``.

    Existing ``spark.jars`` and ``spark.plugins`` values are kept (the plugin is appended).
    Keyword options are the settings in Python spelling, e.g. ``rest_port=0, auth_token="..."``.
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
    conf_entries: dict[str, str] = {}
    for name, value in options.items():
        if name not in _OPTIONS:
            known = ", ".join(sorted(_OPTIONS))
            raise ConfigurationError(f"unknown option {name!r}; known options: {known}")
        key, types = _OPTIONS[name]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(t.__name__ for t in types)
            raise ConfigurationError(f"option {name!r} must be {wanted}, not {type(value).__name__}")
        conf_entries["spark.stopstreaming." + key] = _conf_value(value)

    current: dict[str, str] = dict(getattr(builder, "_options", {}) or {})
    builder.config("spark.jars", _append(current.get("spark.jars"), jar_path()))
    builder.config("spark.plugins", _append(current.get("spark.plugins"), PLUGIN_CLASS))
    if str(current.get("spark.remote", "")).startswith("local"):
        # PySpark starts a local Connect server with spark.plugins replaced by its own plugin;
        # Spark prepends spark.plugins.defaultList to spark.plugins, so ours survives there.
        builder.config(
            "spark.plugins.defaultList", _append(current.get("spark.plugins.defaultList"), PLUGIN_CLASS)
        )
        # PySpark 3.5 adds its Connect plugin only when spark.plugins is unset, so name it too.
        builder.config("spark.plugins", _append(builder._options.get("spark.plugins"), _CONNECT_PLUGIN))
    for key, value in conf_entries.items():
        builder.config(key, value)

    try:
        from pyspark import SparkContext

        if SparkContext._active_spark_context is not None:
            warnings.warn(
                "a SparkContext is already running in this process: spark.plugins and "
                "spark.stopstreaming.* settings only apply to a new SparkContext. Stop it first "
                "(spark.stop()), or use await_external_termination(), which starts the control "
                "plane in the running driver without the plugin.",
                PluginSettingsIgnoredWarning,
                stacklevel=2,
            )
    except ImportError:  # pragma: no cover
        pass
    return builder


def is_connect_session(spark: Any) -> bool:
    """Tell whether ``spark`` is a Spark Connect client session (no JVM in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


_checked_gateways: set[int] = set()


def facade(spark: Any) -> Any:
    """Return the JVM facade of a classic session, after checking the jar's version once."""
    if is_connect_session(spark):
        raise UnsupportedInSparkConnectError(
            "this call needs the driver JVM over Py4J, which a Spark Connect client does not have"
        )
    return facade_for_jvm(getattr(spark, "_jvm", None) or spark.sparkContext._jvm)


def facade_for_jvm(jvm: Any) -> Any:
    """Return the facade class in a driver JVM, after checking the jar's version once."""
    cls = jvm
    for part in _FACADE.split("."):
        cls = getattr(cls, part)
    from py4j.java_gateway import JavaClass

    if not isinstance(cls, JavaClass):
        raise PluginNotLoadedError(
            "the driver JVM has no stopstreaming classes: build the session with "
            "stopstreaming.configure(SparkSession.builder) or add the jar to spark.jars "
            f"(stopstreaming.jar_path() = {jar_path()})"
        )
    key = id(jvm)
    if key not in _checked_gateways:
        jar_version = str(cls.version())
        if jar_version != __version__:
            raise JarVersionMismatchError(
                f"the driver runs stopstreaming jar {jar_version}, but this Python package is "
                f"{__version__}; put the jar of this package on the classpath "
                f"(stopstreaming.jar_path() = {jar_path()})"
            )
        _checked_gateways.add(key)
    return cls


def running_classic_session() -> Any:
    """Return the active classic SparkSession of this process, or None."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover
        return None
    s = SparkSession.getActiveSession()
    return s if s is not None and not is_connect_session(s) else None


# Java exception classes the facade throws on purpose, and what Python raises for them.
_JAVA_ERRORS: dict[str, type[StopStreamingError]] = {
    "java.util.NoSuchElementException": QueryNotFoundError,
    "java.lang.IllegalArgumentException": ConfigurationError,
    "io.github.stopstreaming.control.InvalidSettingException": ConfigurationError,
    "io.github.stopstreaming.extensions.conf.StopConfigException": ConfigurationError,
    "java.lang.IllegalStateException": StopStreamingError,
}


def call_jvm(fn: Callable[[], T]) -> T:
    """Run a Py4J call; expected Java failures become our exceptions, with the Java message only."""
    from py4j.protocol import Py4JJavaError

    try:
        from pyspark.errors.exceptions.captured import CapturedException
    except ImportError:  # pragma: no cover - PySpark before 3.4
        CapturedException = Py4JJavaError  # type: ignore[misc,assignment]  # noqa: N806

    try:
        return fn()
    except (Py4JJavaError, CapturedException) as e:
        # PySpark turns Py4JJavaError into its own classes and keeps the Java one as _origin.
        jexc = e.java_exception if isinstance(e, Py4JJavaError) else getattr(e, "_origin", None)
        if jexc is None:
            raise
        err = _JAVA_ERRORS.get(str(jexc.getClass().getName()))
        if err is None:
            raise
        raise err(str(jexc.getMessage())) from None


def control_url(spark: Any) -> str:
    """Return the URL of the driver's control server (starting the control plane if needed)."""
    if is_connect_session(spark):
        url = spark.conf.get("spark.stopstreaming.rest.url", None)
        if not url:
            raise UnsupportedInSparkConnectError(
                "the Spark Connect server runs no stopstreaming control server: start it with "
                f"spark.plugins={PLUGIN_CLASS} (and the jar on spark.jars)"
            )
        return str(url)
    url = str(call_jvm(lambda: facade(spark).ensureStarted(spark._jsparkSession)))
    if not url:
        raise StopStreamingError("the control server is off (spark.stopstreaming.rest.enabled=false)")
    return url
