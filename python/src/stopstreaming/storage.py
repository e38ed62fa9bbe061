"""Folders the Python side reads without Spark: a fleet's stop directory, a query's checkpoint.

Local paths and mounted volumes (``/dbfs/...`` on Databricks, a Kubernetes volume) are read
directly. Object store URLs (``s3://``, ``s3a://``, ``abfss://``, ``gs://``) go through fsspec and
its backend package: ``pip install 'stopstreaming[fleet-s3]'`` (``fleet-azure``, ``fleet-gcs``).
"""

from __future__ import annotations

import os
import re
import stat
import uuid
from typing import Any, Protocol

from stopstreaming.errors import ConfigurationError

__all__ = ["Directory", "open_directory"]

_EXTRAS = {
    "s3": "fleet-s3",
    "s3a": "fleet-s3",
    "abfs": "fleet-azure",
    "abfss": "fleet-azure",
    "gs": "fleet-gcs",
}
# Enough for a marker or a stop file; a reader of larger files says how much it takes.
DEFAULT_LIMIT = 64 * 1024


class Directory(Protocol):
    """A folder: list it or one of its sub-folders, read a file, write one atomically."""

    def names(self, sub: str = "") -> list[str]:
        """List the folder (or ``sub`` in it); raise FileNotFoundError when it does not exist."""
        ...

    def files(self, sub: str = "") -> list[str]:
        """List the regular files of the folder (or of ``sub`` in it), links and folders left out."""
        ...

    def read(self, name: str, limit: int = DEFAULT_LIMIT) -> bytes | None:
        """Read at most ``limit`` bytes of a regular file; None when it is gone or not a regular file."""
        ...

    def write(self, name: str, data: bytes) -> None:
        """Write ``name`` whole, replacing any file of that name."""
        ...


class _LocalDir:
    def __init__(self, path: str, what: str) -> None:
        self.path, self.what = path, what

    def names(self, sub: str = "") -> list[str]:
        return os.listdir(os.path.join(self.path, sub) if sub else self.path)

    def files(self, sub: str = "") -> list[str]:
        with os.scandir(os.path.join(self.path, sub) if sub else self.path) as entries:
            return [e.name for e in entries if e.is_file(follow_symlinks=False)]

    def read(self, name: str, limit: int = DEFAULT_LIMIT) -> bytes | None:
        # Anyone who can write the directory can put a FIFO or a link here: opened without
        # following links and without waiting, and read only if it is a regular file.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(os.path.join(self.path, name), flags)
        except OSError:
            return None  # removed between the listing and the read, or not a file
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            with os.fdopen(fd, "rb", closefd=False) as f:
                return f.read(limit)
        except OSError:
            return None
        finally:
            os.close(fd)

    def write(self, name: str, data: bytes) -> None:
        tmp = os.path.join(self.path, f".{name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(self.path, name))


class _FsspecDir:
    def __init__(self, url: str, what: str) -> None:
        scheme = url.split("://", 1)[0].lower()
        extra = _EXTRAS.get(scheme)
        try:
            import fsspec  # noqa: PLC0415 - optional: only object stores need it
        except ImportError:
            hint = f"pip install 'stopstreaming[{extra}]'" if extra else "pip install fsspec and its backend"
            raise ConfigurationError(f"a {what} on {scheme}:// needs fsspec: {hint}") from None
        try:
            self.fs, self.path = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as e:
            hint = f"pip install 'stopstreaming[{extra}]'" if extra else "install fsspec's backend for it"
            raise ConfigurationError(f"cannot open {url}: {e} ({hint})") from None

    def names(self, sub: str = "") -> list[str]:
        folder = f"{self.path}/{sub}" if sub else self.path
        # fsspec keeps listings (and reuses one filesystem object per process): a listing read again
        # later must see what changed since, a new batch or a new marker.
        self.fs.invalidate_cache(folder)
        return [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(folder, detail=False)]

    def files(self, sub: str = "") -> list[str]:
        folder = f"{self.path}/{sub}" if sub else self.path
        self.fs.invalidate_cache(folder)
        entries = self.fs.ls(folder, detail=True)
        return [e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "file"]

    def read(self, name: str, limit: int = DEFAULT_LIMIT) -> bytes | None:
        try:
            with self.fs.open(f"{self.path}/{name}", "rb") as f:
                return bytes(f.read(limit))
        except OSError:
            return None

    def write(self, name: str, data: bytes) -> None:
        with self.fs.open(f"{self.path}/{name}", "wb") as f:
            f.write(data)


def open_directory(location: str, what: str = "folder") -> Any:
    """Open the folder at ``location`` (a path, ``file:``, or an fsspec URL); ``what`` names it in errors."""
    if location.startswith("dbfs:"):
        raise ConfigurationError(
            f"{location}: read DBFS through its mount, e.g. /dbfs/{location[5:].lstrip('/')}"
        )
    if location.startswith("file:"):
        return _LocalDir(re.sub(r"^file:(//)?", "", location), what)
    if "://" in location:
        return _FsspecDir(location, what)
    return _LocalDir(location, what)
