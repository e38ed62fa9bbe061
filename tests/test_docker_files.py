"""docker/ is checked without a Docker engine; the compose run itself needs one and skips here."""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"


def _engine_running() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def test_compose_file_describes_master_worker_and_demo():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"master", "worker", "demo"}
    assert "8558:8558" in services["demo"]["ports"]
    assert services["demo"]["environment"]["STOPSTREAMING_TOKEN"], "a published control port needs a token"
    assert all(s["image"] == "stopstreaming-spark" for s in services.values())


def test_compose_config_validates():
    has_plugin = (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0
    )
    if not has_plugin:
        pytest.skip("the docker compose plugin is not installed on this machine (only the docker client is)")
    r = subprocess.run(
        ["docker", "compose", "-f", str(DOCKER / "compose.yaml"), "config"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def test_dockerfile_copies_what_make_build_produces():
    text = (DOCKER / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY "):
            src = line.split()[1]
            assert glob.glob(str(ROOT / src)), f"{src} does not exist (run make build first)"


def test_databricks_init_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(DOCKER / "databricks-init.sh")]).returncode == 0


def test_kubernetes_grace_period_outlasts_the_shutdown_timeout():
    app, service = yaml.safe_load_all((DOCKER / "kubernetes" / "spark-application.yaml").read_text())
    grace = app["spec"]["driver"]["terminationGracePeriodSeconds"]
    timeout = app["spec"]["sparkConf"]["spark.stopstreaming.shutdown.timeout"]
    # The drain bound, the 10 s it may take to escalate, and a few seconds for Spark itself.
    assert int(timeout.rstrip("s")) + 10 + 5 <= grace
    assert service["spec"]["ports"][0]["port"] == 8558


@pytest.mark.skipif(
    not _engine_running(), reason="no Docker engine runs on this machine (docker is only a client)"
)
def test_compose_stack_stops_the_demo_over_http():  # pragma: no cover - needs an engine
    import requests
    from testcontainers.compose import DockerCompose

    subprocess.run(
        ["docker", "build", "-f", str(DOCKER / "Dockerfile"), "-t", "stopstreaming-spark", str(ROOT)],
        check=True,
    )
    with DockerCompose(str(DOCKER), compose_file_name="compose.yaml") as stack:
        url = "http://127.0.0.1:8558"
        stack.wait_for(url + "/api/v1/health")
        headers = {"Authorization": "Bearer change-me"}
        names = [
            q["name"]
            for q in requests.get(url + "/api/v1/queries", headers=headers, timeout=10).json()["queries"]
        ]
        assert "demo-orders" in names
        r = requests.post(
            url + "/api/v1/queries/demo-orders/stop", params={"wait": "60s"}, headers=headers, timeout=90
        )
        assert r.json()["stop"]["state"] == "STOPPED"
