"""Choosing, once per session, how the public API reaches the plugin.

Classic PySpark goes over Py4J (``classic/``), Spark Connect over HTTP (``connect/``). Both
implement ``Backend``; the public functions only ever call what it declares.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

from stopstreaming.classic import ClassicBackend
from stopstreaming.config import RestartPolicy, StopConfig
from stopstreaming.connect import ConnectBackend

__all__ = [
    "Backend",
    "ManagedHandle",
    "backend_for_query",
    "backend_for_session",
    "is_connect",
    "is_connect_session",
]


@runtime_checkable
class ManagedHandle(Protocol):
    """One managed query in the plugin, by name: what ``ManagedQuery`` asks of it."""

    def view(self) -> dict[str, Any]:
        """Return the managed query as ``GET /api/v1/managed/{name}`` shows it."""

    def run(self) -> Any:
        """Return the run of the moment (a ``StreamingQuery``), or None."""

    def act(self, verb: str, when: str | None, timeout: str | None, wait_ms: int) -> dict[str, Any]:
        """Pause, resume, restart or stop it; return its view, after at most ``wait_ms``."""

    def await_finished(self, ms: int) -> dict[str, Any]:
        """Wait at most ``ms`` for it to be finished for good; return its view.

        ``terminated`` in the view: no more waiting (finished, or the control plane closed).
        """


@runtime_checkable
class Backend(Protocol):
    """What the public API needs from the plugin of one session, whichever way it is reached."""

    def control_url(self) -> str:
        """Return the URL of the driver's control server."""

    def register(self, query: Any, config: StopConfig | None) -> None:
        """Make sure ``query`` is registered, watched the way ``config`` says (None: the plugin's)."""

    def await_stop_recorded(self, query: Any, timeout_ms: int = 2000) -> None:
        """Wait until the stop of an ended ``query`` is recorded as finished."""

    def request_stop(
        self,
        query: Any,
        mode: str | None,
        timeout: str | None,
        when: str | None = None,
        wait: str | None = None,
    ) -> dict[str, Any]:
        """Ask for a stop of ``query``; return the query as JSON, after ``wait`` if given."""

    def cancel_stop(self, query: Any) -> dict[str, Any]:
        """Cancel the pending conditional stop of ``query``; return the query as JSON."""

    def conf_get(self, key: str) -> str | None:
        """Return the dynamic value of ``key``, or None."""

    def conf_version(self) -> int:
        """Return the dynamic configuration's version."""

    def conf_snapshot(self) -> dict[str, Any]:
        """Return the whole dynamic configuration, as ``GET /api/v1/conf`` shows it."""

    def ensure_started(self) -> None:
        """Make sure the control plane runs in the driver (starting it there if no plugin did)."""

    def load_config(self, path: str | None) -> StopConfig:
        """Read the HOCON ``stopstreaming { ... }`` block of ``path`` (None: ``application.conf``)."""

    def manage(self, name: str, start: Callable[[], Any], policy: RestartPolicy) -> ManagedHandle:
        """Start a query with ``start()`` and hand its life, and ``start`` as its recipe, to the plugin."""


def is_connect(obj: Any) -> bool:
    """Tell whether ``obj`` (a session, a query, a DataFrame) is a Spark Connect client's object.

    The one place this is decided: a Connect object lives in ``pyspark.sql.connect``.
    """
    return type(obj).__module__.startswith("pyspark.sql.connect")


def is_connect_session(spark: Any) -> bool:
    """Tell whether ``spark`` is a Spark Connect client session (no JVM in this process)."""
    return is_connect(spark)


def backend_for_session(spark: Any, token: str | None = None) -> Backend:
    """Return the backend of a ``SparkSession``."""
    if is_connect(spark):
        return ConnectBackend.for_session(spark, token)
    return ClassicBackend.for_session(spark)


def backend_for_query(query: Any, token: str | None = None) -> Backend:
    """Return the backend of a ``StreamingQuery``'s own session."""
    if is_connect(query):
        return ConnectBackend.for_query(query, token)
    return ClassicBackend.for_query(query)
