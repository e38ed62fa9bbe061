"""The exceptions of stopstreaming: every expected failure is one of these."""

from __future__ import annotations


class StopStreamingError(Exception):
    """Base class of every error this package raises on purpose."""


class JarNotFoundError(StopStreamingError):
    """The plugin jar is missing from the installed package."""


class UnsupportedSparkVersionError(StopStreamingError):
    """The running (or named) Spark version has no stopstreaming jar."""


class JarVersionMismatchError(StopStreamingError):
    """The JVM runs a plugin jar of another version than this Python package."""


class PluginNotLoadedError(StopStreamingError):
    """The driver JVM has no stopstreaming classes (the jar is not on its classpath)."""


class ConfigurationError(StopStreamingError, ValueError):
    """An argument or setting has a value that cannot be used."""


class QueryNotFoundError(StopStreamingError, LookupError):
    """No query has the given id or name (or no dynamic value has the given key)."""


class AmbiguousQueryError(StopStreamingError, LookupError):
    """A name matches several running queries (in different sessions): use the query's id (HTTP 409)."""


class ConflictError(StopStreamingError):
    """A compare-and-set change lost: the value's version was not the expected one (HTTP 412)."""


class AuthenticationError(StopStreamingError):
    """The control server refused the token (or none was given)."""


class ServerUnreachableError(StopStreamingError, ConnectionError):
    """The control server could not be reached."""


class StopTimeoutError(StopStreamingError, TimeoutError):
    """A query did not end within the time waited for it."""


class RequestError(StopStreamingError):
    """The control server rejected a request; ``status`` holds the HTTP code."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class StopDirUnavailableError(StopStreamingError, OSError):
    """The stop directory's file system failed (unreachable, refused); it may work later."""


class UnsupportedInSparkConnectError(StopStreamingError):
    """What was asked cannot be honoured from a Spark Connect client."""


class ManagedQueryFailedError(StopStreamingError):
    """A managed query failed more often than its restart policy allows; ``view`` is its last state."""

    def __init__(self, message: str, view: dict | None = None) -> None:
        super().__init__(message)
        self.view = view or {}


class CheckpointError(StopStreamingError):
    """A folder is not a streaming checkpoint, or cannot be read as one."""
