"""The ``configure()`` options: one per ``spark.stopstreaming.*`` setting of the plugin.

The plugin declares each setting once (``core/Settings.scala``); this table is its Python
spelling, and a test compares the two (``tests/test_settings_table.py``), so they cannot drift.
"""

from __future__ import annotations

__all__ = ["DEFAULT_PORT", "DEFAULT_STOP_PATH", "DEFAULT_URL", "MAX_WAIT_S", "OPTIONS", "PREFIX"]

PREFIX = "spark.stopstreaming."

# The defaults of rest.port and rest.stopPath, which the 0.x configs, the CLI and the Connect
# backend use; the same test compares them with the plugin's declarations.
DEFAULT_PORT = 8558
DEFAULT_STOP_PATH = "/stop"
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"

# The longest `wait` of one call, the plugin's limit over HTTP and Py4J alike (QueryRoutes.MaxWaitMs):
# Python checks it where it converts a wait itself, and allows an HTTP answer that long.
MAX_WAIT_S = 600

_BOOL = (bool,)
_INT = (int,)
_STR = (str,)
_DURATION = (str, int)

# Python name -> (key under spark.stopstreaming., accepted Python types).
OPTIONS: dict[str, tuple[str, tuple[type, ...]]] = {
    "rest_enabled": ("rest.enabled", _BOOL),
    "rest_host": ("rest.host", _STR),
    "rest_port": ("rest.port", _INT),
    "rest_stop_path": ("rest.stopPath", _STR),
    "rest_allowed_origins": ("rest.allowedOrigins", _STR),
    "rest_ssl_key_store": ("rest.ssl.keyStore", _STR),
    "rest_ssl_key_store_password": ("rest.ssl.keyStorePassword", _STR),
    "rest_ssl_key_store_password_file": ("rest.ssl.keyStorePasswordFile", _STR),
    "rest_ssl_key_store_type": ("rest.ssl.keyStoreType", _STR),
    "auth_token": ("auth.token", _STR),
    "auth_token_file": ("auth.tokenFile", _STR),
    "stop_mode": ("stop.mode", _STR),
    "stop_timeout": ("stop.timeout", _DURATION),
    "auto_register": ("autoRegister", _BOOL),
    "registry_retain_terminated": ("registry.retainTerminated", _INT),
    "fs_stop_dir": ("fs.stopDir", _STR),
    "fs_poll_interval": ("fs.pollInterval", _DURATION),
    "shutdown_graceful": ("shutdown.graceful", _BOOL),
    "shutdown_timeout": ("shutdown.timeout", _DURATION),
    "metrics_per_query": ("metrics.perQuery", _BOOL),
    "ui_tab": ("ui.tab", _BOOL),
    "ui_allowed_hosts": ("ui.allowedHosts", _STR),
    "conf_file": ("conf.file", _STR),
    "conf_max_bytes": ("conf.maxBytes", _INT),
    "restart_initial_delay": ("restart.initialDelay", _DURATION),
    "restart_factor": ("restart.factor", _INT),
    "restart_max_delay": ("restart.maxDelay", _DURATION),
    "restart_max_restarts": ("restart.maxRestarts", _INT),
    "restart_window": ("restart.window", _DURATION),
}

# The kind the plugin declares for a setting -> the Python types configure() accepts for it.
KIND_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": _BOOL,
    "int": _INT,
    "string": _STR,
    "duration": _DURATION,
}
