"""``await_external_termination``: the seed's one call, for PySpark and Spark Connect."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from stopstreaming.config import FileSystemStopConfig, RestStopConfig, StopConfig
from stopstreaming.errors import ConfigurationError, UnsupportedInSparkConnectError
from stopstreaming.session import call_jvm, facade_for_jvm

__all__ = ["await_external_termination"]


def await_external_termination(query: Any, config: StopConfig | None = None) -> None:
    """Register ``query`` for external stops, then block until it ends for any reason.

    ``config=None`` uses the plugin's own settings (HTTP API, ``fs.stopDir``); a
    ``RestStopConfig`` adds ``POST {stop_path}/{query.id}`` on its port; a ``FileSystemStopConfig``
    watches ``{stop_dir}/{query.id}``. Returns normally after a stop and raises the query's
    error if it failed, as ``query.awaitTermination()`` does.
    """
    if config is not None and not isinstance(config, (RestStopConfig, FileSystemStopConfig)):
        raise ConfigurationError(
            f"config must be a RestStopConfig, a FileSystemStopConfig or None, not {type(config).__name__}"
        )
    if type(query).__module__.startswith("pyspark.sql.connect"):
        _check_connect(query, config)
    else:
        _register_classic(query, config)
    # Waits for the real end: awaitTermination() without a timeout is safe after a graceful stop.
    query.awaitTermination()


def _register_classic(query: Any, config: StopConfig | None) -> None:
    jsq = getattr(query, "_jsq", None)
    if jsq is None:
        raise ConfigurationError(f"expected a pyspark StreamingQuery, got {type(query).__name__}")
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None:
        raise ConfigurationError("no SparkContext is running in this process")
    f = facade_for_jvm(sc._jvm)
    jsession = jsq.sparkSession()
    if config is None:
        call_jvm(lambda: f.register(jsession, jsq))
    elif isinstance(config, RestStopConfig):
        call_jvm(lambda: f.attachRest(jsession, jsq, config.host, config.port, config.stop_path))
    else:
        call_jvm(lambda: f.attachFileSystem(jsession, jsq, config.stop_dir, config.fs_type.value))


def _check_connect(query: Any, config: StopConfig | None) -> None:
    """Check that the Connect server can honour ``config`` (a client cannot add listeners to it)."""
    spark = query._session
    url = spark.conf.get("spark.stopstreaming.rest.url", None)
    stop_dir = spark.conf.get("spark.stopstreaming.fs.stopDir", None)
    if not url and not stop_dir:
        raise UnsupportedInSparkConnectError(
            "the Spark Connect server runs no stopstreaming plugin, so nothing could stop this query "
            "from outside: start the server with spark.plugins=io.github.stopstreaming.StopStreamingPlugin"
        )
    if isinstance(config, RestStopConfig):
        server_port = urlparse(url).port if url else None
        server_path = spark.conf.get("spark.stopstreaming.rest.stopPath", "/stop")
        if server_port != config.port or server_path != config.stop_path:
            raise UnsupportedInSparkConnectError(
                f"from Spark Connect only the server's own control port can be used: it serves "
                f"{server_path} on port {server_port}, not {config.stop_path} on port {config.port}"
            )
    elif isinstance(config, FileSystemStopConfig):
        if not stop_dir or _norm(stop_dir) != _norm(config.stop_dir):
            raise UnsupportedInSparkConnectError(
                "from Spark Connect only the server's spark.stopstreaming.fs.stopDir can be watched "
                f"({stop_dir or 'none is set'}), not {config.stop_dir}"
            )


def _norm(path: str) -> str:
    p = path[len("file:") :] if path.startswith("file:") else path
    return p.rstrip("/") or "/"
