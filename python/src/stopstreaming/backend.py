"""Choosing, once per session, how the public API reaches the plugin.

Classic PySpark goes over Py4J (``classic/``), Spark Connect over HTTP (``connect/``).
"""

from __future__ import annotations

from typing import Any, Union

from stopstreaming.classic import ClassicBackend
from stopstreaming.connect import ConnectBackend

__all__ = ["Backend", "backend_for_query", "backend_for_session", "is_connect_session"]

Backend = Union[ClassicBackend, ConnectBackend]


def is_connect_session(spark: Any) -> bool:
    """Tell whether ``spark`` is a Spark Connect client session (no JVM in this process)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def backend_for_session(spark: Any, token: str | None = None) -> Backend:
    """Return the backend of a ``SparkSession``."""
    if is_connect_session(spark):
        return ConnectBackend.for_session(spark, token)
    return ClassicBackend.for_session(spark)


def backend_for_query(query: Any, token: str | None = None) -> Backend:
    """Return the backend of a ``StreamingQuery``'s own session."""
    if type(query).__module__.startswith("pyspark.sql.connect"):
        return ConnectBackend.for_query(query, token)
    return ClassicBackend.for_query(query)
