"""Where the plugin jar is, and which version this package is."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from stopstreaming.errors import JarNotFoundError

__all__ = ["__version__", "jar_path"]

__version__: str = resources.files("stopstreaming").joinpath("VERSION").read_text(encoding="utf-8").strip()


def jar_path() -> str:
    """Return the absolute path of the plugin jar shipped inside this package."""
    folder = resources.files("stopstreaming").joinpath("jars")
    try:
        jars = sorted(Path(str(folder)).glob("*.jar"))
    except OSError as e:  # pragma: no cover - an unreadable install
        raise JarNotFoundError(f"cannot read {folder}: {e}") from e
    if len(jars) != 1:
        raise JarNotFoundError(
            f"expected exactly one plugin jar in {folder}, found {len(jars)}; "
            "reinstall the stopstreaming wheel, or run `make build` in a source checkout"
        )
    return str(jars[0].resolve())
