"""What the public API does for a Spark Connect session.

The plugin runs in the server, so calls go to its HTTP API, and what only the server could do
(another port, another stop directory) is refused instead of silently doing nothing.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable, NoReturn
from urllib.parse import urlparse

from stopstreaming.client import StopStreamingClient
from stopstreaming.config import FileSystemStopConfig, RestartPolicy, RestStopConfig, StopConfig
from stopstreaming.errors import QueryNotFoundError, UnsupportedInSparkConnectError
from stopstreaming.settings import DEFAULT_STOP_PATH

__all__ = ["ConnectBackend"]

_NO_PLUGIN = (
    "the Spark Connect server runs no stopstreaming plugin. For a local server, build the session "
    "with stopstreaming.configure(SparkSession.builder.remote('local[*]')): PySpark's local launcher "
    "replaces spark.plugins with its own plugin, so a plugin set there by hand never runs (configure() "
    "uses spark.plugins.defaultList, which it keeps). For a remote server, start it with "
    "spark.plugins=io.github.stopstreaming.StopStreamingPlugin and the jar on spark.jars"
)

_NO_MANAGE = (
    "manage() needs the driver to call your start function, and a Spark Connect client is not "
    "part of the driver. Run the application as a classic PySpark driver (spark-submit, a job "
    "cluster), or manage the query in a driver-side application; pause, resume and restart of a "
    "managed query work from anywhere over HTTP (stopstreaming pause NAME)."
)
_NO_HOCON = "load_config() reads HOCON through the driver JVM: start a classic SparkSession first"


# One backend per session and token, so one HTTP client (and its kept-alive connections) per
# session instead of one per call; dropped with the session.
_backends: weakref.WeakKeyDictionary[Any, dict[str | None, ConnectBackend]] = weakref.WeakKeyDictionary()
_backends_lock = threading.Lock()


class ConnectBackend:
    """The plugin in a Spark Connect server, for one client session."""

    def __init__(self, spark: Any, token: str | None = None) -> None:
        self._spark = spark
        self._token = token or os.environ.get("STOPSTREAMING_TOKEN")
        self._client: StopStreamingClient | None = None

    @classmethod
    def for_session(cls, spark: Any, token: str | None = None) -> ConnectBackend:
        """Return the backend of a ``SparkSession`` (the same one for the same session and token)."""
        with _backends_lock:
            try:
                by_token = _backends.setdefault(spark, {})
            except TypeError:  # a session that cannot be weakly referenced: not kept
                return cls(spark, token)
            backend = by_token.get(token)
            if backend is None:
                backend = by_token[token] = cls(spark, token)
            return backend

    @classmethod
    def for_query(cls, query: Any, token: str | None = None) -> ConnectBackend:
        """Return the backend of a Connect ``StreamingQuery``'s session."""
        return cls.for_session(query._session, token)

    def _conf(self, key: str) -> str | None:
        value = self._spark.conf.get(key, None)
        return None if value is None else str(value)

    def control_url(self) -> str:
        """Return the URL of the driver's control server."""
        url = self._conf("spark.stopstreaming.rest.url")
        if not url:
            raise UnsupportedInSparkConnectError(_NO_PLUGIN)
        return url

    def client(self) -> StopStreamingClient:
        """Return this session's HTTP client of the server's control API (made on first use)."""
        if self._client is None:
            self._client = StopStreamingClient(self.control_url(), self._token)
        return self._client

    def ensure_started(self) -> None:
        """Check that the server runs the plugin: its control plane starts with the server, not from here."""
        self._stoppable()

    def _stoppable(self) -> tuple[str | None, str | None]:
        """Return the server's control URL and stop directory; refuse when it has neither."""
        url = self._conf("spark.stopstreaming.rest.url")
        stop_dir = self._conf("spark.stopstreaming.fs.stopDir")
        if not url and not stop_dir:
            raise UnsupportedInSparkConnectError("nothing could stop this query from outside: " + _NO_PLUGIN)
        return url, stop_dir

    def register(self, query: Any, config: StopConfig | None) -> None:
        """Check that the server, which registers every query itself, can honour ``config``."""
        url, stop_dir = self._stoppable()
        if isinstance(config, RestStopConfig):
            server_port = urlparse(url).port if url else None
            server_path = self._conf("spark.stopstreaming.rest.stopPath") or DEFAULT_STOP_PATH
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

    def await_stop_recorded(self, query: Any, timeout_ms: int = 2000) -> None:
        """Nothing to wait for here: the server records the stop, and outlives this client's calls."""

    def request_stop(
        self,
        query: Any,
        mode: str | None,
        timeout: str | None,
        when: str | None = None,
        wait: str | None = None,
    ) -> dict[str, Any]:
        """Ask for a stop of ``query``; return the query as JSON, after ``wait`` if given."""
        return self.client().stop(str(query.id), mode=mode, timeout=timeout, when=when, wait=wait)

    def cancel_stop(self, query: Any) -> dict[str, Any]:
        """Cancel the pending conditional stop of ``query``; return the query as JSON."""
        return self.client().cancel(str(query.id))

    def conf_get(self, key: str) -> str | None:
        """Return the dynamic value of ``key``, or None."""
        try:
            return str(self.client().conf_get(key)["value"])
        except QueryNotFoundError:
            return None

    def conf_version(self) -> int:
        """Return the dynamic configuration's version."""
        return int(self.client().conf_list()["version"])

    def conf_snapshot(self) -> dict[str, Any]:
        """Return the whole dynamic configuration, as ``GET /api/v1/conf`` shows it."""
        return self.client().conf_list()

    def load_config(self, path: str | None) -> NoReturn:
        """Refused: the HOCON file would be read by the server's JVM, on the server's disk."""
        raise UnsupportedInSparkConnectError(_NO_HOCON)

    def manage(self, name: str, start: Callable[[], Any], policy: RestartPolicy) -> NoReturn:
        """Refused: the driver cannot call a function of a Connect client back."""
        raise UnsupportedInSparkConnectError(_NO_MANAGE)


def _norm(path: str) -> str:
    p = path[len("file:") :] if path.startswith("file:") else path
    return p.rstrip("/") or "/"
