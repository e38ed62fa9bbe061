"""What the public API does for a classic session: one Py4J call into the plugin's facade each."""

from __future__ import annotations

import json
from typing import Any, Callable

from stopstreaming.classic.conf_mirror import mirror_for
from stopstreaming.classic.managed import ClassicManaged, start_managed
from stopstreaming.config import (
    FileSystemStopConfig,
    RestartPolicy,
    RestStopConfig,
    StopConfig,
    stop_config_from_json,
)
from stopstreaming.errors import ConfigurationError, StopStreamingError
from stopstreaming.jvm import call_jvm, facade_for_jvm

__all__ = ["ClassicBackend"]


class ClassicBackend:
    """The plugin in this process's driver JVM, for one classic session."""

    def __init__(self, jvm: Any, jsession: Any) -> None:
        self._facade = facade_for_jvm(jvm)
        self._jsession = jsession

    @classmethod
    def for_session(cls, spark: Any) -> ClassicBackend:
        """Return the backend of a classic ``SparkSession``."""
        return cls(getattr(spark, "_jvm", None) or spark.sparkContext._jvm, spark._jsparkSession)

    @classmethod
    def for_query(cls, query: Any) -> ClassicBackend:
        """Return the backend of a classic ``StreamingQuery``'s own session (maybe not the active one)."""
        jsq = getattr(query, "_jsq", None)
        if jsq is None:
            raise ConfigurationError(f"expected a pyspark StreamingQuery, got {type(query).__name__}")
        from pyspark import SparkContext

        sc = SparkContext._active_spark_context
        if sc is None:
            raise ConfigurationError("no SparkContext is running in this process")
        return cls(sc._jvm, jsq.sparkSession())

    def _start_plane(self) -> str:
        """Start the control plane in this driver if no plugin did; return its URL ("" with HTTP off)."""
        return str(call_jvm(lambda: self._facade.ensureStarted(self._jsession)))

    def ensure_started(self) -> None:
        """Make sure the control plane runs in the driver (starting it there if no plugin did)."""
        self._start_plane()

    def control_url(self) -> str:
        """Return the URL of the driver's control server."""
        url = self._start_plane()
        if not url:
            raise StopStreamingError("the control server is off (spark.stopstreaming.rest.enabled=false)")
        return url

    def register(self, query: Any, config: StopConfig | None) -> None:
        """Register ``query`` for external stops as ``config`` says (None: the plugin's settings)."""
        jsq, f, js = query._jsq, self._facade, self._jsession
        if config is None:
            call_jvm(lambda: f.register(js, jsq))
        elif isinstance(config, RestStopConfig):
            call_jvm(lambda: f.attachRest(js, jsq, config.host, config.port, config.stop_path))
        elif isinstance(config, FileSystemStopConfig):
            call_jvm(lambda: f.attachFileSystem(js, jsq, config.stop_dir, config.fs_type.value))

    def await_stop_recorded(self, query: Any, timeout_ms: int = 2000) -> None:
        """After the query ended, wait until its stop is recorded (so no audit record is lost)."""
        f, qid = self._facade, str(query.id)
        call_jvm(lambda: f.awaitStopRecorded(qid, timeout_ms))

    def request_stop(
        self,
        query: Any,
        mode: str | None,
        timeout: str | None,
        when: str | None = None,
        wait: str | None = None,
    ) -> dict[str, Any]:
        """Ask for a stop of ``query``; return the query as JSON, after ``wait`` if given."""
        jsq, f, js = query._jsq, self._facade, self._jsession
        args = (js, jsq, mode or "", timeout or "", when or "", wait or "")
        return dict(json.loads(call_jvm(lambda: f.requestStop(*args))))

    def cancel_stop(self, query: Any) -> dict[str, Any]:
        """Cancel the pending conditional stop of ``query``; return the query as JSON."""
        jsq, f = query._jsq, self._facade
        data = dict(json.loads(call_jvm(lambda: f.cancelStop(jsq))))
        return data

    def conf_get(self, key: str) -> str | None:
        """Return the dynamic value of ``key``, or None."""
        entry = mirror_for(self._facade).snapshot()["entries"].get(key)
        return None if entry is None else str(entry["value"])

    def conf_version(self) -> int:
        """Return the dynamic configuration's version."""
        return int(mirror_for(self._facade).snapshot()["version"])

    def conf_snapshot(self) -> dict[str, Any]:
        """Return the whole dynamic configuration, as ``GET /api/v1/conf`` shows it."""
        return mirror_for(self._facade).snapshot()

    def load_config(self, path: str | None) -> StopConfig:
        """Read the HOCON ``stopstreaming { ... }`` block of ``path`` (None: ``application.conf``).

        The file is parsed by the plugin jar in the driver, exactly as the Scala ``StopConfigLoader`` does.
        """
        data = json.loads(call_jvm(lambda: self._facade.loadConfig(path or "")))
        return stop_config_from_json(data)

    def manage(self, name: str, start: Callable[[], Any], policy: RestartPolicy) -> ClassicManaged:
        """Start a query with ``start()`` and hand its life, and ``start`` as its recipe, to the plugin."""
        return start_managed(self._facade, self._jsession, name, start, policy)
