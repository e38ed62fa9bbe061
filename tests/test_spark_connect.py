"""Spark Connect: a client with no JVM of its own, talking to a local server that runs the plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.smoke
def test_connect_session_queries_are_registered_and_stopped_over_http():
    # Its own process: a Connect client cannot share this process with the classic session.
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("connect_app.py"))],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["connect"] is True
    ours = [w for w in out["warnings"] if "spark.jars" in w or "spark.plugins" in w or "stopstreaming" in w]
    assert ours == [], "configure() on a local Connect builder warns about nothing of its own"
    assert out["url"].startswith("http://127.0.0.1:")
    assert "connect-q" in out["listed"]
    assert out["registered_id_matches"] is True
    assert out["stop_status"] == 200 and out["stop_state"] == "STOPPED"
    assert out["active_after"] is False
    assert "only the server's own control port" in out["unsupported_port_error"]
    assert "classic PySpark driver" in out.get("unsupported_manage_error", ""), "manage() under Connect"
    assert out["await_returned"] is True
    assert out["waited_state"] == "STOPPED" and out["waited_active_after"] is False, "request_stop(wait=)"
    assert out["one_client"] is True, "one backend and one HTTP client per Connect session"
    assert out["dynconf_value"] == "from-http"
