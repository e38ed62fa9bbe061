"""stopstreaming: stop, inspect and retune Spark Structured Streaming queries from outside, safely.

The package is thin: it wires a session to the JVM driver plugin (whose jar it carries) and
talks to the plugin over Py4J or over its HTTP control API.
"""

from stopstreaming.backend import is_connect_session
from stopstreaming.checkpoint import inspect_checkpoint
from stopstreaming.client import StopStreamingClient
from stopstreaming.config import FileSystemStopConfig, FsType, RestStopConfig
from stopstreaming.dynconf import DynamicConf, dynamic_conf
from stopstreaming.errors import (
    AmbiguousQueryError,
    AuthenticationError,
    CheckpointError,
    ConfigurationError,
    ConflictError,
    JarNotFoundError,
    JarVersionMismatchError,
    ManagedQueryFailedError,
    PluginNotLoadedError,
    QueryNotFoundError,
    RequestError,
    ServerUnreachableError,
    StopDirUnavailableError,
    StopStreamingError,
    StopTimeoutError,
    UnsupportedInSparkConnectError,
    UnsupportedSparkVersionError,
)
from stopstreaming.jar import SUPPORTED_SPARK, __version__, jar_path, spark_line
from stopstreaming.jvm import PLUGIN_CLASS
from stopstreaming.managed import ManagedQuery, manage
from stopstreaming.session import configure, control_url
from stopstreaming.streaming import await_external_termination, cancel_stop, load_config, request_stop

__all__ = [
    "PLUGIN_CLASS",
    "AmbiguousQueryError",
    "AuthenticationError",
    "CheckpointError",
    "ConfigurationError",
    "ConflictError",
    "DynamicConf",
    "FileSystemStopConfig",
    "FsType",
    "JarNotFoundError",
    "JarVersionMismatchError",
    "ManagedQuery",
    "ManagedQueryFailedError",
    "PluginNotLoadedError",
    "QueryNotFoundError",
    "RequestError",
    "RestStopConfig",
    "ServerUnreachableError",
    "StopDirUnavailableError",
    "StopStreamingClient",
    "StopStreamingError",
    "StopTimeoutError",
    "SUPPORTED_SPARK",
    "UnsupportedInSparkConnectError",
    "UnsupportedSparkVersionError",
    "__version__",
    "await_external_termination",
    "cancel_stop",
    "configure",
    "control_url",
    "dynamic_conf",
    "inspect_checkpoint",
    "is_connect_session",
    "jar_path",
    "load_config",
    "manage",
    "request_stop",
    "spark_line",
]
