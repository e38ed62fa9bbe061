"""Spark Connect: no JVM in this process; the plugin runs in the Connect server, reached over HTTP."""

from stopstreaming.connect.backend import ConnectBackend

__all__ = ["ConnectBackend"]
