"""The stop configurations of the 0.x API in Python spelling, and a managed query's restart policy.

Data only: these values are checked when made and read by the backends; this module imports no
module of ours but the data ones (``tests/test_python_imports.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Union

from stopstreaming.errors import ConfigurationError
from stopstreaming.settings import DEFAULT_PORT, DEFAULT_STOP_PATH

__all__ = [
    "FileSystemStopConfig",
    "FsType",
    "RestartPolicy",
    "RestStopConfig",
    "StopConfig",
    "stop_config_from_json",
]


class FsType(str, Enum):
    """File systems known by name; any Hadoop URI in ``stop_dir`` works as well."""

    LOCAL_FILE_SYSTEM = "LocalFileSystem"
    DBFS = "DBFS"


@dataclass(frozen=True)
class RestStopConfig:
    """Stop over HTTP: ``POST http://<host>:<port><stop_path>/<query.id>``; queries on one port share it."""

    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    stop_path: str = DEFAULT_STOP_PATH

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ConfigurationError("RestStopConfig.host must be a non-empty string")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigurationError(f"RestStopConfig.port must be an int in 0..65535, not {self.port!r}")
        if not isinstance(self.stop_path, str) or stop_path_error(self.stop_path):
            why = stop_path_error(self.stop_path) if isinstance(self.stop_path, str) else "not a string"
            raise ConfigurationError(f"RestStopConfig.stop_path {self.stop_path!r}: {why}")


@dataclass(frozen=True)
class FileSystemStopConfig:
    """Stop by deleting the marker file ``<stop_dir>/<query.id>`` (any Hadoop file system)."""

    stop_dir: str
    fs_type: FsType = FsType.LOCAL_FILE_SYSTEM

    def __post_init__(self) -> None:
        if not isinstance(self.stop_dir, str) or not self.stop_dir.strip():
            raise ConfigurationError("FileSystemStopConfig.stop_dir must be a non-empty path")
        try:
            object.__setattr__(self, "fs_type", FsType(self.fs_type))
        except ValueError:
            raise ConfigurationError(
                f"FileSystemStopConfig.fs_type must be LocalFileSystem or DBFS, not {self.fs_type!r}"
            ) from None


StopConfig = Union[RestStopConfig, FileSystemStopConfig]

# The plugin's rule for a stop path (core/StopPaths.scala), so a bad one fails at construction,
# before any JVM exists; tests/test_python_api.py checks that both sides agree.
_STOP_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def stop_path_error(path: str) -> str | None:
    """Why ``path`` cannot be a stop path such as ``/stop``, or None when it can."""
    if not _STOP_PATH.fullmatch(path) or any(s in (".", "..") for s in path.split("/")):
        return "must look like /stop: one or more plain path segments, no trailing slash"
    if path == "/api" or path.startswith("/api/"):
        return "must not be under /api, which the control API uses"
    return None


def stop_config_from_json(data: dict) -> StopConfig:
    """Return the configuration the plugin's ``StopConfigLoader`` read, from its JSON spelling."""
    if data["backend"] == "rest":
        return RestStopConfig(data["host"], int(data["port"]), data["stopPath"])
    return FileSystemStopConfig(data["stopDir"], FsType(data["fsType"]))


@dataclass(frozen=True)
class RestartPolicy:
    """How a managed query starts again after a failure, as the plugin reads it.

    Durations are the plugin's text and counts whole numbers; ``""`` and ``-1`` mean the plugin's
    ``spark.stopstreaming.restart.*`` setting.
    """

    initial_delay: str = ""
    factor: int = -1
    max_delay: str = ""
    max_restarts: int = -1
    window: str = ""
