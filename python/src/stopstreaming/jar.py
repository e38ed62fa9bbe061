"""Where the plugin jar is, and which version this package is.

The wheel carries one jar per Spark line: ``stopstreaming-spark3_2.12`` for Spark 3.5 (Scala
2.12) and ``stopstreaming-spark4_2.13`` for Spark 4.x (Scala 2.13). ``jar_path()`` picks the one
that matches the installed PySpark.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from stopstreaming.errors import JarNotFoundError, UnsupportedSparkVersionError

__all__ = ["SUPPORTED_SPARK", "__version__", "jar_path", "spark_line"]

__version__: str = resources.files("stopstreaming").joinpath("VERSION").read_text(encoding="utf-8").strip()

SUPPORTED_SPARK = "3.5.x (Scala 2.12) and 4.0-4.3 (Scala 2.13)"


def spark_line(spark_version: str) -> str:
    """Return the artifact line (``spark3_2.12`` or ``spark4_2.13``) for a Spark version."""
    try:
        major, minor = (int(p) for p in spark_version.split(".")[:2])
    except ValueError:
        raise UnsupportedSparkVersionError(f"cannot read Spark version {spark_version!r}") from None
    if (major, minor) == (3, 5):
        return "spark3_2.12"
    if major == 4 and minor <= 3:
        return "spark4_2.13"
    raise UnsupportedSparkVersionError(
        f"Spark {spark_version} is not supported; stopstreaming {__version__} supports {SUPPORTED_SPARK}"
    )


def _installed_pyspark() -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pyspark")
        except PackageNotFoundError:
            pass
        import pyspark

        return str(pyspark.__version__)
    except ImportError:
        return None


def jar_path(spark_version: str | None = None) -> str:
    """Return the absolute path of the plugin jar for ``spark_version`` (default: the installed PySpark)."""
    version = spark_version or _installed_pyspark()
    if version is None:
        raise JarNotFoundError("PySpark is not installed: pass spark_version, e.g. jar_path('4.1.1')")
    line = spark_line(version)
    folder = resources.files("stopstreaming").joinpath("jars")
    jars = sorted(Path(str(folder)).glob(f"stopstreaming-{line}-{__version__}-assembly.jar"))
    if len(jars) != 1:
        raise JarNotFoundError(
            f"no stopstreaming-{line} jar of version {__version__} in {folder}; reinstall the "
            "stopstreaming wheel, or run `make build` in a source checkout"
        )
    return str(jars[0].resolve())
