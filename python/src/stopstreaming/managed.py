"""Managed queries: the control plane owns a query's life (pause, resume, restart, restarts after failures).

``manage(spark, name, start)`` calls ``start(spark)`` now and hands the plugin that function as the
query's recipe: the plugin calls it again, over Py4J's callback server (the one PySpark's
``foreachBatch`` uses), on every resume, restart and restart after a failure. So supervision,
back-off and the pause that survives a driver restart live in one place, the driver, for Scala
and Python alike.

Spark Connect: a Connect client is not part of the driver, and the driver cannot call back into it;
``manage()`` raises ``UnsupportedInSparkConnectError`` there (see docs/lifecycle.md for what works).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

from stopstreaming.backend import is_connect_session
from stopstreaming.errors import (
    ConfigurationError,
    ManagedQueryFailedError,
    StopStreamingError,
    UnsupportedInSparkConnectError,
)
from stopstreaming.jvm import call_jvm, facade_for_jvm

__all__ = ["ManagedQuery", "manage"]

# The longest wait the plugin takes in one call, as over HTTP.
_MAX_WAIT_S = 600.0


class _Recipe:
    """The query's recipe as the plugin sees it: ``io.github.stopstreaming.core.QueryRecipe``."""

    class Java:
        """The Java interface Py4J exposes this object as."""

        implements = ["io.github.stopstreaming.core.QueryRecipe"]

    def __init__(self, spark: Any, start: Callable[[Any], Any]) -> None:
        self._spark = spark
        self._start = start
        self.last_error: BaseException | None = None

    def start(self) -> Any:
        """Start the query and return its Java handle (the plugin calls this on Py4J's callback thread)."""
        try:
            query = self._start(self._spark)
            jsq = getattr(query, "_jsq", None)
            if jsq is None:
                raise ConfigurationError(
                    f"the start function must return a started StreamingQuery, not {type(query).__name__}"
                )
            self.last_error = None
            return jsq
        except BaseException as e:
            self.last_error = e
            raise


class ManagedQuery:
    """A query whose life the control plane owns; known by ``name`` across its runs."""

    def __init__(self, spark: Any, name: str, facade: Any, recipe: _Recipe) -> None:
        self._spark = spark
        self.name = name
        self._facade = facade
        self._recipe = recipe  # kept: the plugin calls it back

    def view(self) -> dict[str, Any]:
        """Return the managed query as ``GET /api/v1/managed/{name}`` shows it."""
        return dict(json.loads(call_jvm(lambda: self._facade.managedJson(self.name))))

    @property
    def state(self) -> str:
        """RUNNING, PAUSING, PAUSED, RESTARTING, BACKOFF, FAILED or STOPPED."""
        return str(self.view()["state"])

    @property
    def query(self) -> Any:
        """The run of the moment (a ``StreamingQuery``), or None while there is none."""
        jsq = call_jvm(lambda: self._facade.managedQuery(self.name))
        if jsq is None:
            return None
        from pyspark.sql.streaming import StreamingQuery

        return StreamingQuery(jsq)

    def _act(self, action: str, when: str | None, timeout: str | None, wait: float | None) -> dict[str, Any]:
        wait_ms = _wait_ms(wait)
        f, name = self._facade, self.name
        return dict(
            json.loads(call_jvm(lambda: f.managedAction(name, action, when or "", timeout or "", wait_ms)))
        )

    def pause(
        self, when: str | None = None, timeout: str | None = None, wait: float | None = None
    ) -> dict[str, Any]:
        """Stop gracefully (the batch in flight commits) and stay PAUSED until resumed.

        ``when`` (``caught-up``, ``batch:<N>``, ``in:<duration>``, an ISO-8601 instant) pauses once
        it holds; ``wait`` (seconds) returns once PAUSED or the wait ran out.
        """
        return self._act("pause", when, timeout, wait)

    def resume(self, wait: float | None = None) -> dict[str, Any]:
        """Start again from the checkpoint; with ``wait``, once the new run runs."""
        return self._act("resume", None, None, wait)

    def restart(
        self, when: str | None = None, timeout: str | None = None, wait: float | None = None
    ) -> dict[str, Any]:
        """Stop gracefully and start again (to apply new dynamic values or options)."""
        return self._act("restart", when, timeout, wait)

    def stop(self, wait: float | None = None) -> dict[str, Any]:
        """End it for good: a graceful stop of the run; it is not restarted."""
        return self._act("stop", None, None, wait)

    def await_termination(self, timeout: float | None = None) -> bool:
        """Block until it is finished for good: True once STOPPED (False if ``timeout`` seconds ran out).

        Raises ``ManagedQueryFailedError`` with the last error once FAILED (restarts exhausted).
        Waits in slices of a second, so Ctrl-C ends the wait.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        f, name = self._facade, self.name
        while True:
            left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            ms = int(max(0.0, left) * 1000)
            view = dict(json.loads(call_jvm(lambda ms=ms: f.awaitManaged(name, ms))))
            if view["state"] == "FAILED":
                raise ManagedQueryFailedError(
                    f"managed query {name!r} failed {view['failures']} time(s) within its window and is not "
                    f"restarted again; last error: {view.get('lastError')}",
                    view,
                )
            if view["state"] == "STOPPED" or view.get("terminated"):
                return True  # stopped, or the driver shut down (the view tells the state it was left in)
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def __repr__(self) -> str:
        return f"ManagedQuery(name={self.name!r})"


def _wait_ms(wait: float | None) -> int:
    if wait is None:
        return 0
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait < 0:
        raise ConfigurationError(f"wait must be a number of seconds, not {wait!r}")
    if wait > _MAX_WAIT_S:
        raise ConfigurationError(f"wait is at most {_MAX_WAIT_S:.0f} seconds")
    return int(wait * 1000)


def _duration(what: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigurationError(
            f"{what} must be a duration such as '30s' or a number of seconds, not {value!r}"
        )
    return value if isinstance(value, str) else f"{int(float(value) * 1000)}ms"


def _count(what: str, value: Any) -> int:
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{what} must be a whole number >= 0, not {value!r}")
    return value


_lock = threading.Lock()


def manage(
    spark: Any,
    name: str,
    start: Callable[[Any], Any],
    *,
    initial_delay: str | float | None = None,
    factor: int | None = None,
    max_delay: str | float | None = None,
    max_restarts: int | None = None,
    window: str | float | None = None,
) -> ManagedQuery:
    """Start a query with ``start(spark)`` and hand its life to the control plane.

    ``start`` must return a started ``StreamingQuery`` named ``name`` (``.queryName(name)``) with a
    checkpoint of its own; it is called again on every resume and restart, from that checkpoint.
    After a failure the query starts again after ``initial_delay`` (then times ``factor``, at most
    ``max_delay``); a failure beyond ``max_restarts`` within ``window`` makes it FAILED. Each of
    these defaults to the plugin's ``spark.stopstreaming.restart.*`` setting.

    A name paused in an earlier run of the application (the pause is kept in
    ``spark.stopstreaming.conf.file``) is not started: it stays PAUSED until resumed.
    """
    if is_connect_session(spark):
        raise UnsupportedInSparkConnectError(
            "manage() needs the driver to call your start function, and a Spark Connect client is not "
            "part of the driver. Run the application as a classic PySpark driver (spark-submit, a job "
            "cluster), or manage the query in a driver-side application; pause, resume and restart of a "
            "managed query work from anywhere over HTTP (stopstreaming pause NAME)."
        )
    if not isinstance(name, str) or not name:
        raise ConfigurationError("name must be a non-empty string")
    if not callable(start):
        raise ConfigurationError(f"start must be a function of the session, not {type(start).__name__}")
    from pyspark import SparkContext
    from pyspark.java_gateway import ensure_callback_server_started

    sc = SparkContext._active_spark_context
    if sc is None:
        raise StopStreamingError("no SparkContext is running in this process")
    facade = facade_for_jvm(sc._jvm)
    with _lock:
        ensure_callback_server_started(sc._gateway)
    recipe = _Recipe(spark, start)
    args = (
        _duration("initial_delay", initial_delay),
        _count("factor", factor),
        _duration("max_delay", max_delay),
        _count("max_restarts", max_restarts),
        _duration("window", window),
    )
    js = spark._jsparkSession
    try:
        call_jvm(lambda: facade.manage(js, name, recipe, *args))
    except Exception:
        if recipe.last_error is not None:
            raise recipe.last_error from None  # the start function's own error, as if called directly
        raise
    return ManagedQuery(spark, name, facade, recipe)
