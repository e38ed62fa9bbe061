"""Managed queries: the control plane owns a query's life (pause, resume, restart, restarts after failures).

``manage(spark, name, start)`` calls ``start(spark)`` now and hands the plugin that function as the
query's recipe: the plugin calls it again, over Py4J's callback server (the one PySpark's
``foreachBatch`` uses), on every resume, restart and restart after a failure. So supervision,
back-off and the pause that survives a driver restart live in one place, the driver, for Scala
and Python alike.

Spark Connect: a Connect client is not part of the driver, and the driver cannot call back into it;
its backend refuses ``manage()`` with ``UnsupportedInSparkConnectError`` (see docs/lifecycle.md for
what works).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from stopstreaming.backend import ManagedHandle, backend_for_session
from stopstreaming.config import RestartPolicy
from stopstreaming.durations import Duration, duration_ms, duration_text, wait_ms
from stopstreaming.errors import ConfigurationError, ManagedQueryFailedError

__all__ = ["ManagedQuery", "manage"]


class ManagedQuery:
    """A query whose life the control plane owns; known by ``name`` across its runs.

    Every ``wait`` and ``timeout`` is a duration: a number of seconds (``wait=60``) or a text
    such as ``"60s"`` or ``"5m"``; a ``wait`` is at most ten minutes, as over HTTP.
    """

    def __init__(self, name: str, handle: ManagedHandle) -> None:
        self.name = name
        self._handle = handle

    def view(self) -> dict[str, Any]:
        """Return the managed query as ``GET /api/v1/managed/{name}`` shows it."""
        return self._handle.view()

    @property
    def state(self) -> str:
        """RUNNING, PAUSING, PAUSED, RESTARTING, BACKOFF, FAILED or STOPPED."""
        return str(self.view()["state"])

    @property
    def query(self) -> Any:
        """The run of the moment (a ``StreamingQuery``), or None while there is none."""
        return self._handle.run()

    def _act(
        self, verb: str, when: str | None, timeout: Duration | None, wait: Duration | None
    ) -> dict[str, Any]:
        return self._handle.act(verb, when, duration_text("timeout", timeout), wait_ms(wait))

    def pause(
        self, when: str | None = None, timeout: Duration | None = None, wait: Duration | None = None
    ) -> dict[str, Any]:
        """Stop gracefully (the batch in flight commits) and stay PAUSED until resumed.

        ``when`` (``caught-up``, ``batch:<N>``, ``in:<duration>``, an ISO-8601 instant) pauses once
        it holds; with ``wait`` it returns once PAUSED or the wait ran out.
        """
        return self._act("pause", when, timeout, wait)

    def resume(self, wait: Duration | None = None) -> dict[str, Any]:
        """Start again from the checkpoint; with ``wait``, once the new run runs."""
        return self._act("resume", None, None, wait)

    def restart(
        self, when: str | None = None, timeout: Duration | None = None, wait: Duration | None = None
    ) -> dict[str, Any]:
        """Stop gracefully and start again (to apply new dynamic values or options)."""
        return self._act("restart", when, timeout, wait)

    def stop(self, wait: Duration | None = None) -> dict[str, Any]:
        """End it for good: a graceful stop of the run; it is not restarted."""
        return self._act("stop", None, None, wait)

    def await_termination(self, timeout: Duration | None = None) -> bool:
        """Block until it is finished for good: True once STOPPED (False if ``timeout`` ran out).

        Raises ``ManagedQueryFailedError`` with the last error once FAILED (restarts exhausted).
        Waits in slices of a second, so Ctrl-C ends the wait.
        """
        timeout_ms = duration_ms("timeout", timeout)
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
        while True:
            left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            view = self._handle.await_finished(int(max(0.0, left) * 1000))
            if view["state"] == "FAILED":
                raise ManagedQueryFailedError(
                    f"managed query {self.name!r} failed {view['failures']} time(s) within its window and is "
                    f"not restarted again; last error: {view.get('lastError')}",
                    view,
                )
            if view["state"] == "STOPPED" or view.get("terminated"):
                return True  # stopped, or the driver shut down (the view tells the state it was left in)
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def __repr__(self) -> str:
        return f"ManagedQuery(name={self.name!r})"


def _count(what: str, value: Any) -> int:
    if value is None:
        return -1
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{what} must be a whole number >= 0, not {value!r}")
    return value


def manage(
    spark: Any,
    name: str,
    start: Callable[[Any], Any],
    *,
    initial_delay: Duration | None = None,
    factor: int | None = None,
    max_delay: Duration | None = None,
    max_restarts: int | None = None,
    window: Duration | None = None,
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
    backend = backend_for_session(spark)
    if not isinstance(name, str) or not name:
        raise ConfigurationError("name must be a non-empty string")
    if not callable(start):
        raise ConfigurationError(f"start must be a function of the session, not {type(start).__name__}")
    policy = RestartPolicy(
        duration_text("initial_delay", initial_delay) or "",
        _count("factor", factor),
        duration_text("max_delay", max_delay) or "",
        _count("max_restarts", max_restarts),
        duration_text("window", window) or "",
    )
    return ManagedQuery(name, backend.manage(name, lambda: start(spark), policy))
