"""stopstreaming: stop, inspect and retune Spark Structured Streaming queries from outside, safely.

The package is thin: it wires a session to the JVM driver plugin (whose jar it carries) and
talks to the plugin over Py4J or over its HTTP control API.
"""

from stopstreaming.errors import (
    AuthenticationError,
    ConfigurationError,
    JarNotFoundError,
    JarVersionMismatchError,
    PluginNotLoadedError,
    QueryNotFoundError,
    RequestError,
    ServerUnreachableError,
    StopStreamingError,
    StopTimeoutError,
    UnsupportedInSparkConnectError,
)
from stopstreaming.jar import __version__, jar_path
from stopstreaming.session import PLUGIN_CLASS, configure, control_url, is_connect_session

__all__ = [
    "PLUGIN_CLASS",
    "AuthenticationError",
    "ConfigurationError",
    "JarNotFoundError",
    "JarVersionMismatchError",
    "PluginNotLoadedError",
    "QueryNotFoundError",
    "RequestError",
    "ServerUnreachableError",
    "StopStreamingError",
    "StopTimeoutError",
    "UnsupportedInSparkConnectError",
    "__version__",
    "configure",
    "control_url",
    "is_connect_session",
    "jar_path",
]
