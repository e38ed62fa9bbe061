"""The image of docker/Dockerfile in a real Docker engine, on a base with the official Spark image's
layout (tests/docker_images.py builds it without a registry): the compose file's demo service and a
Kubernetes-style driver (the entrypoint's `driver` mode) list and stop queries over HTTP with the
token, and `docker stop` in mid-batch lets the batch commit.

Containers share the host's network (`--network host`) and every server in them listens on
127.0.0.1. `make test` runs these on the default Spark line; `make test-matrix` leaves them out
(marker `components`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

import docker_images
from conftest import TOKEN, free_port, wait_for

# The first run builds the base images (a few minutes); later runs find them in the engine.
pytestmark = [
    pytest.mark.components("the image is built for the default Spark line only; one build costs minutes"),
    pytest.mark.docker,
    pytest.mark.timeout(1200),
]

ROOT = Path(__file__).resolve().parents[1]
APPS = Path(__file__).resolve().with_name("apps")
# A query stopped gracefully ends within its batch; `docker stop` waits this long before SIGKILL.
STOP_GRACE_S = 60
# On every container the tests start, so that a run cut short (a timeout, a kill) is cleaned up by the next.
LABEL = "io.github.stopstreaming.test"


@pytest.fixture(scope="module")
def engine() -> Iterator[docker_images.Engine]:
    try:
        eng = docker_images.start_engine()
    except docker_images.EngineUnavailable as e:
        pytest.fail(f"these tests need the Docker engine, which could not be started: {e}", pytrace=False)
    try:
        left = eng.docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
        if left:
            eng.docker("rm", "-f", *left)
        with pytest.MonkeyPatch.context() as env:
            # For testcontainers (read when it is imported): this engine, and no reaper image (no registry).
            env.setenv("DOCKER_HOST", eng.host)
            env.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
            yield eng
    finally:
        eng.stop()


@pytest.fixture(scope="module")
def image(engine: docker_images.Engine) -> str:
    return docker_images.build_all(engine)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A host directory the container's user (spark, 185) can write: checkpoints, batch logs."""
    d = Path(tempfile.mkdtemp(prefix="stopstreaming-docker-"))
    d.chmod(0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _container(
    image: str, command: list[str], env: dict[str, str], volumes: dict[Path, tuple[str, str]]
) -> Any:
    from testcontainers.core.container import DockerContainer

    c = DockerContainer(image).with_command(command).with_kwargs(network_mode="host", labels={LABEL: "1"})
    for k, v in env.items():
        c = c.with_env(k, v)
    for host, (inside, mode) in volumes.items():
        c = c.with_volume_mapping(str(host), inside, mode)
    return c


def _demo_service() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"]["demo"]


def _compose_demo(image: str, port: int, checkpoints: Path) -> Any:
    """The demo service of docker/compose.yaml as compose would run it (its image, command and
    environment), except on the host's network: a local master instead of the compose cluster,
    and the control server on loopback at a free port."""
    service = _demo_service()
    env = {
        **service["environment"],
        "DEMO_MASTER": "local[2]",
        "DEMO_PORT": str(port),
        "DEMO_URL": f"http://127.0.0.1:{port}",
        "DEMO_CHECKPOINTS": "/checkpoints",
        "SPARK_LOCAL_IP": "127.0.0.1",
        # spark.* system properties of spark-submit's JVM reach the driver's conf.
        "SPARK_SUBMIT_OPTS": "-Dspark.stopstreaming.rest.host=127.0.0.1",
    }
    return _container(image, service["command"], env, {checkpoints: ("/checkpoints", "rw")})


def _logs(c: Any) -> str:
    out, err = c.get_logs()
    return (out + err).decode(errors="replace")


def _ready(c: Any, url: str, token: str, queries: int = 1) -> None:
    def answers() -> bool:
        c.get_wrapped_container().reload()
        if c.get_wrapped_container().status == "exited":
            raise AssertionError(f"the container exited:\n{_logs(c)[-4000:]}")
        try:
            r = requests.get(url + "/api/v1/queries", headers=_auth(token), timeout=5)
            return r.status_code == 200 and len(r.json()["queries"]) >= queries
        except requests.RequestException:
            return False

    wait_for(answers, timeout=240, every=0.5, what=f"the control server at {url}")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _batches(checkpoint: Path, kind: str) -> set[int]:
    d = checkpoint / kind
    return {int(p.name) for p in d.iterdir() if p.name.isdigit()} if d.is_dir() else set()


def _in_flight(checkpoint: Path) -> int | None:
    """The batch whose offsets are written and whose commit is not, once one batch committed."""
    offsets, commits = _batches(checkpoint, "offsets"), _batches(checkpoint, "commits")
    pending = offsets - commits
    return max(pending) if commits and pending else None


def _docker_stop(c: Any, grace_s: int = STOP_GRACE_S) -> tuple[int, str]:
    """`docker stop -t <grace_s>`, then the exit code (143 after SIGTERM, 137 once killed) and the logs."""
    wrapped = c.get_wrapped_container()
    wrapped.stop(timeout=grace_s)
    return int(wrapped.wait(timeout=30)["StatusCode"]), _logs(c)


def test_compose_demo_lists_and_stops_with_the_token(image: str, shared_dir: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token = _demo_service()["environment"]["STOPSTREAMING_TOKEN"]
    with _compose_demo(image, port, shared_dir) as c:
        _ready(c, url, token, queries=2)
        assert requests.get(url + "/api/v1/queries", timeout=10).status_code == 401
        listed = requests.get(url + "/api/v1/queries", headers=_auth(token), timeout=10).json()
        names = {q["name"] for q in listed["queries"]}
        assert {"demo-orders", "demo-clicks"} <= names
        r = requests.post(
            url + "/api/v1/queries/demo-clicks/stop", params={"wait": "60s"}, headers=_auth(token), timeout=90
        )
        assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED", r.text
        # The printed examples carry the token, so they work as printed once it is exported.
        assert 'curl -s -H "Authorization: Bearer $STOPSTREAMING_TOKEN"' in _logs(c)


def test_docker_stop_of_the_compose_demo_commits_the_batch_in_flight(image: str, shared_dir: Path) -> None:
    port = free_port()
    service = _demo_service()
    # As `docker compose stop demo` does: SIGTERM, and SIGKILL after the service's grace period.
    grace_s = int(service["stop_grace_period"].rstrip("s"))
    with _compose_demo(image, port, shared_dir) as c:
        _ready(c, f"http://127.0.0.1:{port}", service["environment"]["STOPSTREAMING_TOKEN"])
        orders = shared_dir / "orders"
        batch = wait_for(lambda: _in_flight(orders), timeout=120, every=0.1, what="an orders batch in flight")
        code, logs = _docker_stop(c, grace_s)
    assert batch in _batches(orders, "commits"), f"batch {batch} was cut by docker stop:\n{logs[-4000:]}"
    assert code != 137, f"killed after {grace_s}s instead of stopping:\n{logs[-4000:]}"


def test_docker_stop_of_a_kubernetes_style_driver_commits_the_batch_in_flight(
    image: str, shared_dir: Path
) -> None:
    # The image's entrypoint in `driver` mode, as the Spark Operator starts a driver pod.
    port = free_port()
    command = [
        "driver",
        "--master", "local[2]",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", f"spark.stopstreaming.rest.port={port}",
        "--conf", "spark.stopstreaming.rest.host=127.0.0.1",
        "local:///opt/app/batch_logger_app.py", "/work/ckpt", "/work/batches.log", "3",
    ]  # fmt: skip
    env = {
        "STOPSTREAMING_TOKEN": TOKEN,
        "SPARK_DRIVER_BIND_ADDRESS": "127.0.0.1",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    with _container(image, command, env, {shared_dir: ("/work", "rw"), APPS: ("/opt/app", "ro")}) as c:
        url = f"http://127.0.0.1:{port}"
        _ready(c, url, TOKEN)
        q = requests.get(url + "/api/v1/queries/batch-logger", headers=_auth(TOKEN), timeout=10)
        assert q.status_code == 200 and q.json()["active"], q.text
        batch = wait_for(
            lambda: _in_flight(shared_dir / "ckpt"), timeout=120, every=0.1, what="a batch in flight"
        )
        code, logs = _docker_stop(c)
    assert code != 137, f"killed after {STOP_GRACE_S}s instead of stopping:\n{logs[-4000:]}"
    log = (shared_dir / "batches.log").read_text().split("\n")
    assert f"END {batch}" in log, f"batch {batch} was cut by docker stop: {log}\n{logs[-4000:]}"
    assert batch in _batches(shared_dir / "ckpt", "commits"), logs[-4000:]
    assert "JVM shutdown: stopping 1 streaming queries gracefully" in logs, logs[-4000:]
