"""The driver's dynamic configuration, mirrored in this Python process.

A read is a dictionary lookup. The plugin hands the mirror each new version with its whole snapshot
over Py4J's callback server (the one PySpark starts for ``foreachBatch``) before it answers the
change's writer, so no read after an acknowledged change sees the old value and no read makes a
call. Where the callback server cannot be used, every read asks the driver.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from stopstreaming.jvm import call_jvm

__all__ = ["ConfMirror", "mirror_for"]

_mirrors: dict[int, ConfMirror] = {}
_mirrors_lock = threading.Lock()


class ConfMirror:
    """A copy of the dynamic configuration, refreshed only when the plugin says it changed."""

    class Java:
        """The Java interface Py4J exposes this object as."""

        implements = ["io.github.stopstreaming.python.ConfChangeListener"]

    def __init__(self, facade: Any, context: Any = None) -> None:
        self._facade = facade
        self.context = context  # the SparkContext whose control plane this mirrors
        self._next_try = 0.0  # when subscribe() may ask the plugin again
        self._lock = threading.Lock()
        self._latest = 0  # the newest version the plugin announced
        self._version = -1  # the version of self._snapshot
        self._snapshot: dict[str, Any] = {"version": 0, "entries": {}}
        self.listening = False

    def changed(self, version: int, snapshot_json: str | None = None) -> None:
        """Take a new version (the plugin calls this on the callback server's thread).

        The snapshot is parsed here, off the reading thread; without one, the next read fetches it.
        """
        version = int(version)
        if snapshot_json is not None:
            data = json.loads(snapshot_json)
            with self._lock:
                if int(data["version"]) > self._version:
                    self._snapshot, self._version = data, int(data["version"])
        self._latest = max(self._latest, version)

    def subscribe(self, gateway: Any) -> None:
        """Ask the plugin to announce changes here, unless listening or asked within a second.

        Without a control plane yet, or without a callback server, each read asks the driver
        meanwhile; once the plane runs, the mirror starts listening.
        """
        now = time.monotonic()
        if self.listening or now < self._next_try:
            return
        with self._lock:
            if self.listening or now < self._next_try:
                return
            self._next_try = now + 1.0
            try:
                from pyspark.java_gateway import ensure_callback_server_started

                ensure_callback_server_started(gateway)
                call_jvm(lambda: self._facade.addConfListener(self))
            except Exception:  # noqa: BLE001 - tried again a second later
                return
            self._version = -1  # what was read before may be older than the first announcement
            self.listening = True

    def snapshot(self) -> dict[str, Any]:
        """Return the configuration as ``GET /api/v1/conf`` shows it, re-read only when it changed."""
        if self.listening and self._version >= self._latest:
            return self._snapshot
        with self._lock:
            if not self.listening or self._version < self._latest:
                data = json.loads(call_jvm(lambda: self._facade.confJson()))
                self._snapshot, self._version = data, int(data["version"])
                self._latest = max(self._latest, self._version)
            return self._snapshot


def mirror_for(facade: Any) -> ConfMirror:
    """Return the mirror of this process's running driver, listening for changes when it can.

    A mirror belongs to one SparkContext, the lifetime of one control plane: after ``spark.stop()``
    and a new session (a notebook's restart), the next read makes a new mirror that listens to the
    new plane; the old one, listening to a plane that is gone, is dropped.
    """
    from pyspark import SparkContext

    context, gateway = SparkContext._active_spark_context, SparkContext._gateway
    key = id(gateway)
    mirror = _mirrors.get(key)
    if mirror is not None and mirror.context is context and mirror.listening:
        return mirror  # the read path: two attribute reads, no lock, no call
    with _mirrors_lock:
        mirror = _mirrors.get(key)
        if mirror is None or mirror.context is not context:
            mirror = ConfMirror(facade, context)
            _mirrors[key] = mirror
    mirror.subscribe(gateway)
    return mirror
