"""``dynamic_conf(spark)``: read the driver's dynamic configuration from a streaming job."""

from __future__ import annotations

from typing import Any

from stopstreaming.backend import backend_for_session

__all__ = ["DynamicConf", "dynamic_conf"]


class DynamicConf:
    """Reads of the dynamic configuration.

    In classic PySpark a read is a lookup in a copy that the plugin keeps current (a change is
    seen by every read after its writer was answered); from Spark Connect each read is an HTTP call.
    """

    def __init__(self, spark: Any, token: str | None = None) -> None:
        self._backend = backend_for_session(spark, token)

    def get(self, key: str, default: str | None = None) -> str | None:
        """Return the current value of ``key``, or ``default`` when it is not set."""
        value = self._backend.conf_get(key)
        return default if value is None else value

    @property
    def version(self) -> int:
        """The store's version; it grows on every change."""
        return self._backend.conf_version()

    def as_dict(self) -> dict[str, str]:
        """Every key and its value, all read at one version."""
        return {k: v["value"] for k, v in self._backend.conf_snapshot()["entries"].items()}


def dynamic_conf(spark: Any, token: str | None = None) -> DynamicConf:
    """Return a reader of the driver's dynamic configuration for ``spark``.

    In classic PySpark reads are lookups in a copy the plugin keeps current; from a Spark Connect
    client reads go to the control server's HTTP API (``token`` or ``STOPSTREAMING_TOKEN``).
    """
    return DynamicConf(spark, token)
