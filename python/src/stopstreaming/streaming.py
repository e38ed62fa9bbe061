"""Calls on a query object, for classic PySpark and Spark Connect alike.

``await_external_termination`` and ``load_config`` (compatible with the stopstreaming 0.x API),
``request_stop`` and ``cancel_stop``. Each goes through the ``Backend`` of the query's session.
"""

from __future__ import annotations

from typing import Any

from stopstreaming.backend import backend_for_query, backend_for_session
from stopstreaming.config import FileSystemStopConfig, RestStopConfig, StopConfig
from stopstreaming.durations import Duration, duration_text
from stopstreaming.errors import ConfigurationError, StopStreamingError

__all__ = ["await_external_termination", "cancel_stop", "load_config", "request_stop"]


def load_config(path: str | None = None) -> StopConfig:
    """Read the HOCON ``stopstreaming { ... }`` block from ``path`` (or ``application.conf``).

    The file is parsed by the plugin jar in the running driver, exactly as the Scala
    ``StopConfigLoader`` does, so a classic SparkSession must be running (a Spark Connect
    session's backend refuses with ``UnsupportedInSparkConnectError``).
    """
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise StopStreamingError(
            "load_config() reads HOCON through the driver JVM: start a classic SparkSession first"
        )
    return backend_for_session(spark).load_config(path)


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
    backend = backend_for_query(query)
    backend.register(query, config)
    # Waits for the real end: awaitTermination() without a timeout is safe after a graceful stop.
    try:
        query.awaitTermination()
    finally:
        # An application that stops Spark right after loses no audit record of this stop.
        backend.await_stop_recorded(query)


def request_stop(
    query: Any,
    mode: str | None = None,
    timeout: Duration | None = None,
    token: str | None = None,
    when: str | None = None,
    wait: Duration | None = None,
) -> dict[str, Any]:
    """Ask the control plane to stop ``query`` and return the query as JSON.

    ``mode`` is ``"graceful"`` or ``"immediate"`` and ``timeout`` a duration such as ``"5m"`` or
    a number of seconds (both default to the plugin's settings). ``when`` makes the stop wait for a condition:
    ``"caught-up"`` (drain, then stop), ``"batch:<N>"``, ``"in:<duration>"`` or an ISO-8601
    instant; until then ``result["stop"]["state"]`` is ``"PENDING"``.

    Without ``wait`` the call returns at once. With ``wait`` (a duration up to ``"10m"``, such as
    ``wait="60s"`` or ``wait=60`` seconds) it returns once the stop has settled, the query ended
    (``STOPPED``), or a pending stop was cancelled or replaced, or when the wait ran out, with the
    state then (``PENDING`` or ``DRAINING``): ``request_stop(q, when="caught-up", wait="5m")``
    drains, then returns.
    From Spark Connect the request goes over HTTP (``token`` or ``STOPSTREAMING_TOKEN``).
    """
    timeout_text, wait_text = duration_text("timeout", timeout), duration_text("wait", wait)
    return backend_for_query(query, token).request_stop(query, mode, timeout_text, when, wait_text)


def cancel_stop(query: Any, token: str | None = None) -> dict[str, Any]:
    """Cancel ``query``'s pending conditional stop and return the query as JSON.

    Raises ``ConflictError`` when nothing is pending (a stop already under way cannot be taken back).
    """
    return backend_for_query(query, token).cancel_stop(query)
