"""The Docker engine and the images of the container tests, with no image registry.

The engine is a ``dockerd`` of the tests' own (its socket under /run/stopstreaming-docker, its data
root under /var/lib/stopstreaming-docker, which outlives the run): host networking only
(``--iptables=false --bridge=none``), ``vfs`` storage. The images are built bottom up, each tagged
by a hash of its inputs and built only when that tag is missing, so a second run builds nothing:

1. a Debian base: ``debootstrap --variant=minbase`` from the host's apt mirror, then ``docker import``;
2. the official Spark image's layout on it (tests/spark-image/), from the installed PyPI ``pyspark``;
3. the product image, docker/Dockerfile with ``SPARK_IMAGE`` set to (2).

``python tests/docker_images.py`` builds them all and prints the product image's tag.
"""

from __future__ import annotations

import glob
import hashlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPARK_IMAGE_DIR = Path(__file__).resolve().with_name("spark-image")
DATA_ROOT = Path(os.environ.get("STOPSTREAMING_DOCKER_ROOT", "/var/lib/stopstreaming-docker"))
RUN_DIR = Path("/run/stopstreaming-docker")
SOCKET = RUN_DIR / "docker.sock"
PRODUCT_REPO = "stopstreaming-spark"
# Where the daemon is looked up; /usr/sbin is not on every user's PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


class EngineUnavailable(RuntimeError):
    """The Docker engine could not be started; the message says why and what to do."""


def _which(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def _sha(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Engine:
    """A running Docker engine: its ``DOCKER_HOST``, and the daemon if this process started it."""

    host: str
    daemon: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run the docker client against this engine; on failure raise with its output."""
        r = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])} ... failed:\n{(r.stdout + r.stderr)[-4000:]}")
        return r

    def answers(self) -> bool:
        try:
            r = self.docker("version", "--format", "{{.Server.Version}}", timeout=20, check=False)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    def has_image(self, tag: str) -> bool:
        return self.docker("image", "inspect", tag, check=False).returncode == 0

    def stop(self) -> None:
        """Stop the daemon if this process started it (a daemon found running is left alone)."""
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(timeout=30)


def start_engine() -> Engine:
    """The tests' Docker engine: the one already on our socket, else a new ``dockerd``."""
    engine = Engine(f"unix://{SOCKET}")
    missing = [n for n in ("docker", "dockerd", "debootstrap") if _which(n) is None]
    if missing:
        raise EngineUnavailable(
            f"{', '.join(missing)} not installed: run `make setup` (Debian's docker.io and debootstrap)"
        )
    if SOCKET.exists() and engine.answers():
        return engine
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    log_path = RUN_DIR / "dockerd.log"
    with open(log_path, "w") as log:
        engine.daemon = subprocess.Popen(
            [
                _which("dockerd"),
                f"--host=unix://{SOCKET}",
                f"--data-root={DATA_ROOT / 'data'}",
                f"--exec-root={RUN_DIR / 'exec'}",
                f"--pidfile={RUN_DIR / 'dockerd.pid'}",
                "--storage-driver=vfs",
                # No bridge, no NAT rules: containers share the host's network (--network host).
                "--iptables=false",
                "--bridge=none",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PATH": SEARCH_PATH},
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while not engine.answers():
        if engine.daemon.poll() is not None or time.monotonic() > deadline:
            engine.stop()
            raise EngineUnavailable(f"dockerd did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.5)
    return engine


def _debian_suite_and_mirror() -> tuple[str, str]:
    """This host's Debian release and the mirror apt uses for it (deb822 or one-line sources)."""
    os_release = Path("/etc/os-release").read_text()
    suite = re.search(r"^VERSION_CODENAME=(\S+)", os_release, re.M).group(1)
    stanzas: list[str] = []
    for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        stanzas += Path(f).read_text().split("\n\n")
    for stanza in stanzas:
        uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
        suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
        if uris and suites and suite in suites.group(1).split():
            return suite, uris.group(1)
    lists = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]
    for f in filter(os.path.exists, lists):
        m = re.search(rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{suite}\s", Path(f).read_text(), re.M)
        if m:
            return suite, m.group(1)
    raise EngineUnavailable(f"no apt source for Debian {suite} in /etc/apt: debootstrap needs a mirror")


def debian_base(engine: Engine) -> str:
    """A minimal Debian image of this host's release, made by debootstrap and docker import."""
    suite, mirror = _debian_suite_and_mirror()
    tag = f"stopstreaming-test/debian:{suite}-{_sha(suite, mirror, inspect.getsource(debian_base))}"
    if engine.has_image(tag):
        return tag
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    rootfs = tempfile.mkdtemp(prefix="debootstrap-", dir=DATA_ROOT)
    try:
        r = subprocess.run(
            [_which("debootstrap"), "--variant=minbase", suite, rootfs, mirror],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        if r.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{(r.stdout + r.stderr)[-3000:]}")
        os.chmod(rootfs, 0o755)  # the image's / (mkdtemp made it 0700: no user but root could run)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import", "-", tag], stdin=tar.stdout, env=engine.env,
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        tar.stdout.close()
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise RuntimeError(f"docker import failed:\n{imp.stderr[-3000:]}")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    _prune(engine, tag, f"stopstreaming-test/debian:{suite}-")
    return tag


def _link_tree(src: Path, dst: Path, skip: set[str] = frozenset()) -> None:
    """Hard links where the file system allows (the jars are half a gigabyte), copies elsewhere."""

    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(
        src, dst, copy_function=link,
        ignore=lambda d, names: [n for n in names if n in skip or n == "__pycache__"],
    )  # fmt: skip


def spark_base(engine: Engine, debian: str) -> str:
    """The official Spark image's layout (tests/spark-image/) for the installed PySpark."""
    import pyspark

    pkg = Path(pyspark.__file__).parent
    certs = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
    # The recipe is an input too: how the context is staged is part of the image.
    inputs = [debian, pyspark.__version__, inspect.getsource(spark_base), inspect.getsource(_link_tree)]
    inputs += [(SPARK_IMAGE_DIR / n).read_text() for n in ("Dockerfile", "entrypoint.sh")]
    inputs += [Path(c).read_text() for c in certs]
    tag = f"stopstreaming-test/spark:{pyspark.__version__}-{_sha(*inputs)}"
    if engine.has_image(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="spark-image-", dir=DATA_ROOT) as ctx:
        c = Path(ctx)
        shutil.copy2(SPARK_IMAGE_DIR / "Dockerfile", c / "Dockerfile")
        (c / "certs").mkdir()
        for cert in certs:
            shutil.copy2(cert, c / "certs")
        opt = c / "opt"
        opt.mkdir()
        shutil.copy2(SPARK_IMAGE_DIR / "entrypoint.sh", opt / "entrypoint.sh")
        # The PyPI package holds what a Spark distribution puts under /opt/spark.
        for d in ("jars", "bin", "sbin"):
            _link_tree(pkg / d, opt / "spark" / d)
        _link_tree(pkg / "python" / "lib", opt / "spark" / "python" / "lib")
        _link_tree(pkg, opt / "spark" / "python" / "pyspark", skip={"jars", "bin", "sbin", "python"})
        (opt / "spark" / "work-dir").mkdir()  # and no conf/: the official image has none
        engine.docker(
            "build", "--network", "host", "--quiet", "--build-arg", f"DEBIAN_IMAGE={debian}", "-t", tag, ctx,
            timeout=1200,
        )  # fmt: skip
    _prune(engine, tag, f"stopstreaming-test/spark:{pyspark.__version__}-")
    return tag


def product_image(engine: Engine, spark: str) -> str:
    """docker/Dockerfile on the given Spark image, with what `make build` produced."""
    jars = sorted(glob.glob(str(ROOT / "python/src/stopstreaming/jars/stopstreaming-spark4_2.13-*.jar")))
    wheels = sorted(glob.glob(str(ROOT / "python/dist/stopstreaming-*-py3-none-any.whl")))
    if not jars or not wheels:
        raise RuntimeError("the plugin jar or the wheel is missing: run `make build`")
    inputs = [spark, *(_file_sha(Path(p)) for p in (*jars, *wheels))]
    files = ("docker/Dockerfile", ".dockerignore", "docker/spark-defaults.conf", "examples/demo.py")
    inputs += [(ROOT / p).read_text() for p in files]
    tag = f"{PRODUCT_REPO}:test-{_sha(*inputs)}"
    if engine.has_image(tag):
        return tag
    engine.docker(
        "build", "--network", "host", "--quiet", "-f", str(ROOT / "docker/Dockerfile"),
        "--build-arg", f"SPARK_IMAGE={spark}", "-t", tag, str(ROOT),
        timeout=1200,
    )  # fmt: skip
    _prune(engine, tag, f"{PRODUCT_REPO}:test-")
    return tag


def _prune(engine: Engine, keep: str, prefix: str) -> None:
    """Remove the earlier builds of an image: under vfs each layer is a full copy, gigabytes a build."""
    repo = prefix.split(":")[0]
    tags = engine.docker("images", "--format", "{{.Repository}}:{{.Tag}}", repo).stdout.split()
    stale = [t for t in tags if t.startswith(prefix) and t != keep]
    if stale:
        engine.docker("image", "rm", *stale, check=False)


def build_all(engine: Engine) -> str:
    """Every image the container tests use, bottom up; returns the product image's tag."""
    return product_image(engine, spark_base(engine, debian_base(engine)))


if __name__ == "__main__":
    eng = start_engine()
    try:
        t0 = time.monotonic()
        print(build_all(eng), f"({time.monotonic() - t0:.0f}s)")
    finally:
        eng.stop()
    sys.exit(0)
