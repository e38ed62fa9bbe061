"""Managed queries in a classic driver: the start function is the plugin's recipe, called back over Py4J.

The plugin calls the recipe again, over Py4J's callback server (the one PySpark's ``foreachBatch``
uses), on every resume, restart and restart after a failure.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable

from stopstreaming.config import RestartPolicy
from stopstreaming.errors import ConfigurationError, StopStreamingError
from stopstreaming.jvm import call_jvm

__all__ = ["ClassicManaged", "start_managed"]

_callback_lock = threading.Lock()


class _Recipe:
    """The query's recipe as the plugin sees it: ``io.github.stopstreaming.core.QueryRecipe``."""

    class Java:
        """The Java interface Py4J exposes this object as."""

        implements = ["io.github.stopstreaming.core.QueryRecipe"]

    def __init__(self, start: Callable[[], Any]) -> None:
        self._start = start
        self.last_error: BaseException | None = None

    def start(self) -> Any:
        """Start the query and return its Java handle (the plugin calls this on Py4J's callback thread)."""
        try:
            query = self._start()
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


class ClassicManaged:
    """One managed query of the plugin in this process's driver, by name."""

    def __init__(self, facade: Any, name: str, recipe: _Recipe) -> None:
        self._facade = facade
        self._name = name
        self._recipe = recipe  # kept: the plugin calls it back

    def view(self) -> dict[str, Any]:
        """Return the managed query as ``GET /api/v1/managed/{name}`` shows it."""
        f, name = self._facade, self._name
        return dict(json.loads(call_jvm(lambda: f.managedJson(name))))

    def run(self) -> Any:
        """Return the run of the moment (a ``StreamingQuery``), or None."""
        f, name = self._facade, self._name
        jsq = call_jvm(lambda: f.managedQuery(name))
        if jsq is None:
            return None
        from pyspark.sql.streaming import StreamingQuery

        return StreamingQuery(jsq)

    def act(self, verb: str, when: str | None, timeout: str | None, wait_ms: int) -> dict[str, Any]:
        """Pause, resume, restart or stop it; return its view, after at most ``wait_ms``."""
        f, name = self._facade, self._name
        return dict(
            json.loads(call_jvm(lambda: f.managedAction(name, verb, when or "", timeout or "", wait_ms)))
        )

    def await_finished(self, ms: int) -> dict[str, Any]:
        """Wait at most ``ms`` for it to be finished for good; return its view."""
        f, name = self._facade, self._name
        return dict(json.loads(call_jvm(lambda: f.awaitManaged(name, ms))))


def start_managed(
    facade: Any, jsession: Any, name: str, start: Callable[[], Any], policy: RestartPolicy
) -> ClassicManaged:
    """Hand ``start`` to the plugin as the recipe of ``name``: called now, and again on every restart."""
    from pyspark import SparkContext
    from pyspark.java_gateway import ensure_callback_server_started

    sc = SparkContext._active_spark_context
    if sc is None:
        raise StopStreamingError("no SparkContext is running in this process")
    with _callback_lock:
        ensure_callback_server_started(sc._gateway)
    recipe = _Recipe(start)
    p = policy
    args = (p.initial_delay, p.factor, p.max_delay, p.max_restarts, p.window)
    try:
        call_jvm(lambda: facade.manage(jsession, name, recipe, *args))
    except Exception:
        if recipe.last_error is not None:
            raise recipe.last_error from None  # the start function's own error, as if called directly
        raise
    return ClassicManaged(facade, name, recipe)
