"""The README's Python quick start, run the way Python streaming apps run in production:
`spark-submit examples/quickstart.py` with no extra flag (no --jars), stopped over HTTP and by
SIGTERM, and restarted from its checkpoint with no batch repeated."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import requests

from conftest import TOKEN, spark_env, wait_for

APP = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def _run(cwd: Path, name: str) -> tuple[subprocess.Popen, Path]:
    env = spark_env()
    submit = os.path.join(env["SPARK_HOME"], "bin", "spark-submit")
    out = cwd / f"{name}.out"
    f = open(out, "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([submit, str(APP)], cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                            env={**env, "STOPSTREAMING_TOKEN": TOKEN})  # fmt: skip
    return proc, out


def _batches(text: str) -> list[int]:
    return [int(b) for b in re.findall(r"^Batch: (\d+)$", text, re.M)]


def test_quickstart_under_spark_submit_without_jars(tmp_path):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = "http://127.0.0.1:8558"
    seen: list[int] = []

    # Run 1: stopped over HTTP while it processes batches.
    proc, out = _run(tmp_path, "run1")
    try:
        wait_for(lambda: "control server: http" in out.read_text(), timeout=180, what="the app to start")
        text = out.read_text()
        assert "ClassNotFoundException" not in text
        wait_for(lambda: len(_batches(out.read_text())) >= 3, timeout=120, what="three batches")
        r = requests.post(
            f"{url}/api/v1/queries/orders/stop", params={"wait": "60s"}, headers=auth, timeout=90
        )
        assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED", r.text
        assert proc.wait(timeout=120) == 0, out.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "query stopped" in out.read_text()
    seen += _batches(out.read_text())

    # Run 2: from the same checkpoint, ended by SIGTERM (a pod deleted, a job cancelled).
    proc, out = _run(tmp_path, "run2")
    try:
        wait_for(lambda: len(_batches(out.read_text())) >= 2, timeout=180, what="batches of the restart")
        second = _batches(out.read_text())
        assert second[0] == max(seen) + 1, f"first run {seen}, restart began at {second[0]}"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    assert "JVM shutdown: stopping 1 streaming queries gracefully" in text, text[-3000:]
    seen += _batches(text)

    # Run 3: nothing of the first two runs is repeated.
    proc, out = _run(tmp_path, "run3")
    try:
        wait_for(lambda: len(_batches(out.read_text())) >= 1, timeout=180, what="a batch of the third run")
        requests.post(f"{url}/api/v1/queries/orders/stop", params={"wait": "60s"}, headers=auth, timeout=90)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    third = _batches(out.read_text())
    assert third[0] == max(seen) + 1, f"earlier runs {seen}, the third began at {third[0]}"
    assert len(seen) == len(set(seen)), f"a batch ran twice: {seen}"
