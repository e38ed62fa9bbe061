"""docker/ is checked without a Docker engine here; tests/test_docker.py runs the image in one."""

from __future__ import annotations

import glob
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.tooling("reads and validates docker/ files; no Spark runs")

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"


def test_compose_file_describes_master_worker_and_demo():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"master", "worker", "demo"}
    assert "8558:8558" in services["demo"]["ports"]
    assert services["demo"]["environment"]["STOPSTREAMING_TOKEN"], "a published control port needs a token"
    assert all(s["image"] == "stopstreaming-spark" for s in services.values())


def _compose() -> list[str] | None:
    """The Compose command here: the docker CLI's plugin (v2), else the standalone docker-compose."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True,
                                                 timeout=30).returncode == 0:  # fmt: skip
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_compose_config_validates():
    # make setup installs Debian's docker-compose where neither is present; the file keeps to what both
    # read (no top-level `name:`, which docker-compose 1.x refuses), so older installs can run it too.
    compose = _compose()
    assert compose, "neither `docker compose` nor docker-compose is installed: run make setup"
    r = subprocess.run(
        [*compose, "-f", str(DOCKER / "compose.yaml"), "config"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert set(yaml.safe_load(r.stdout)["services"]) == {"master", "worker", "demo"}


def test_compose_demo_runs_through_spark_submit_with_time_to_drain():
    demo = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]["demo"]
    # Plain python3 cannot import PySpark in the official image, and SIGTERM must reach the JVM.
    assert demo["command"][0] == "/opt/spark/bin/spark-submit"
    conf = dict(
        line.split(None, 1) for line in (DOCKER / "spark-defaults.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )  # fmt: skip
    timeout = int(conf["spark.stopstreaming.shutdown.timeout"].strip().rstrip("s"))
    assert timeout + 10 + 5 <= int(demo["stop_grace_period"].rstrip("s"))


def test_dockerfile_installs_the_python_package_with_its_dependencies():
    text = (DOCKER / "Dockerfile").read_text()
    assert "--no-deps" not in text, "requests without urllib3 cannot be imported"


def _copied_sources() -> list[str]:
    """The sources of docker/Dockerfile's COPY instructions (continued lines joined)."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    return [src for ln in text.splitlines() if ln.startswith("COPY ") for src in ln.split()[1:-1]]


def test_dockerignore_keeps_the_build_context_small():
    lines = [ln for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*", "the context is what the Dockerfile copies, not the virtualenvs"
    for src in _copied_sources():
        assert any(Path(src).match(ln[1:]) or ln[1:] == src for ln in lines[1:]), f"{src} is ignored"


def test_dockerfile_copies_what_make_build_produces():
    assert len(_copied_sources()) == 4
    for src in _copied_sources():
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
