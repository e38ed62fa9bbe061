"""The seed library's stop configurations, in Python spelling."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Union

from stopstreaming.errors import ConfigurationError, StopStreamingError

__all__ = ["FileSystemStopConfig", "FsType", "RestStopConfig", "StopConfig", "load_config"]


class FsType(str, Enum):
    """File systems the seed knew by name; any Hadoop URI in ``stop_dir`` works as well."""

    LOCAL_FILE_SYSTEM = "LocalFileSystem"
    DBFS = "DBFS"


@dataclass(frozen=True)
class RestStopConfig:
    """Stop over HTTP: ``POST http://<host>:<port><stop_path>/<query.id>``; queries on one port share it."""

    host: str = "0.0.0.0"
    port: int = 8558
    stop_path: str = "/stop"

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ConfigurationError("RestStopConfig.host must be a non-empty string")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigurationError(f"RestStopConfig.port must be an int in 0..65535, not {self.port!r}")
        if (
            not isinstance(self.stop_path, str)
            or not self.stop_path.startswith("/")
            or self.stop_path.endswith("/")
        ):
            raise ConfigurationError(f"RestStopConfig.stop_path must look like /stop, not {self.stop_path!r}")


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


def load_config(path: str | None = None) -> StopConfig:
    """Read the seed's HOCON ``stopstreaming { ... }`` block from ``path`` (or ``application.conf``).

    The file is parsed by the plugin jar in the running driver, exactly as the Scala
    ``StopConfigLoader`` does, so a classic SparkSession must be running.
    """
    from stopstreaming.session import call_jvm, facade, running_classic_session

    spark = running_classic_session()
    if spark is None:
        raise StopStreamingError(
            "load_config() reads HOCON through the driver JVM: start a SparkSession first"
        )
    data = json.loads(call_jvm(lambda: facade(spark).loadConfig(path or "")))
    if data["backend"] == "rest":
        return RestStopConfig(data["host"], int(data["port"]), data["stopPath"])
    return FileSystemStopConfig(data["stopDir"], FsType(data["fsType"]))
