"""The bridge to the plugin in a classic driver JVM (Py4J): its facade and its exceptions."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from stopstreaming.errors import (
    AmbiguousQueryError,
    ConfigurationError,
    ConflictError,
    JarVersionMismatchError,
    PluginNotLoadedError,
    QueryNotFoundError,
    StopDirUnavailableError,
    StopStreamingError,
)
from stopstreaming.jar import __version__, jar_path

__all__ = ["FACADE", "PLUGIN_CLASS", "call_jvm", "facade_for_jvm"]

T = TypeVar("T")

PLUGIN_CLASS = "io.github.stopstreaming.StopStreamingPlugin"
FACADE = "io.github.stopstreaming.python.PythonFacade"

# The plugin's own exception classes, and what Python raises for each.
_JAVA_ERRORS: dict[str, type[StopStreamingError]] = {
    "io.github.stopstreaming.python.QueryNotFoundException": QueryNotFoundError,
    "io.github.stopstreaming.python.AmbiguousQueryException": AmbiguousQueryError,
    "io.github.stopstreaming.python.InvalidArgumentException": ConfigurationError,
    "io.github.stopstreaming.python.NotRunningException": StopStreamingError,
    "io.github.stopstreaming.python.NothingPendingException": ConflictError,
    "io.github.stopstreaming.python.LifecycleConflictException": ConflictError,
    "io.github.stopstreaming.core.InvalidSettingException": ConfigurationError,
    "io.github.stopstreaming.extensions.conf.StopConfigException": ConfigurationError,
    "io.github.stopstreaming.fs.StopDirUnavailableException": StopDirUnavailableError,
}

_checked_gateways: set[int] = set()


def facade_for_jvm(jvm: Any) -> Any:
    """Return the facade class in a driver JVM, after checking the jar's version once."""
    cls = jvm
    for part in FACADE.split("."):
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


def call_jvm(fn: Callable[[], T]) -> T:
    """Run a Py4J call; the plugin's own Java exceptions become ours, with the Java one as the cause."""
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
        raise err(str(jexc.getMessage())) from e
