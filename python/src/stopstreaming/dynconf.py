"""``dynamic_conf(spark)``: read the driver's dynamic configuration from a streaming job."""

from __future__ import annotations

import json
import os
from typing import Any

from stopstreaming.client import StopStreamingClient
from stopstreaming.errors import QueryNotFoundError
from stopstreaming.session import call_jvm, control_url, facade, is_connect_session

__all__ = ["DynamicConf", "dynamic_conf"]


class DynamicConf:
    """Reads of the dynamic configuration: one Py4J call each (HTTP from a Spark Connect client)."""

    def __init__(self, spark: Any, token: str | None = None) -> None:
        self._connect = is_connect_session(spark)
        if self._connect:
            self._client = StopStreamingClient(
                control_url(spark), token or os.environ.get("STOPSTREAMING_TOKEN")
            )
        else:
            self._facade = facade(spark)

    def get(self, key: str, default: str | None = None) -> str | None:
        """Return the current value of ``key``, or ``default`` when it is not set."""
        if self._connect:
            try:
                return str(self._client.conf_get(key)["value"])
            except QueryNotFoundError:
                return default
        value = call_jvm(lambda: self._facade.confGet(key))
        return default if value is None else str(value)

    @property
    def version(self) -> int:
        """The store's version; it grows on every change."""
        if self._connect:
            return int(self._client.conf_list()["version"])
        return int(call_jvm(lambda: self._facade.confVersion()))

    def as_dict(self) -> dict[str, str]:
        """Every key and its value, all read at one version."""
        if self._connect:
            data = self._client.conf_list()
        else:
            data = json.loads(call_jvm(lambda: self._facade.confJson()))
        return {k: v["value"] for k, v in data["entries"].items()}


def dynamic_conf(spark: Any, token: str | None = None) -> DynamicConf:
    """Return a reader of the driver's dynamic configuration for ``spark``.

    In classic PySpark each read is one local Py4J call into the driver; from a Spark Connect
    client reads go to the control server's HTTP API (``token`` or ``STOPSTREAMING_TOKEN``).
    """
    return DynamicConf(spark, token)
