"""Classic PySpark: the driver JVM is in this process, reached over Py4J."""

from stopstreaming.classic.backend import ClassicBackend

__all__ = ["ClassicBackend"]
