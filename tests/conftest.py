"""Shared fixtures: one local SparkSession with the plugin for the whole run, and an HTTP helper."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

import stopstreaming

TOKEN = "test-token-0123456789"

# Every driver a test starts keeps its traffic on loopback (Spark would pick the host's own address).
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# Every driver a test starts (in this process, spark-submit, spark-class) logs at WARN.
os.environ.setdefault(
    "SPARK_CONF_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "spark-conf")
)
# Every driver JVM a test starts through spark-submit (this process's, the apps', the quick start's)
# compiles with C1 only and collects with the serial GC: a Spark driver then starts in about 8.6 s
# instead of 11.3 s on 2 cores, with half the CPU (17 s -> 9 s), which lets two test workers share
# the machine. Neither changes what the code does; set SPARK_SUBMIT_OPTS yourself to run without.
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


# Where a test can fail. A test runs on every Spark line of the matrix unless it carries one of these
# markers, each named after the reason Spark's version cannot change its result; the marker's one
# argument says why, in one line, for that test or module. `make test` (the default line) runs
# everything; `make test-matrix` sets STOPSTREAMING_MATRIX_LINE and leaves these out.
DEFAULT_LINE_MARKERS = {
    "transport": "our HTTP server: its guards, limits, TLS and error table answer before Spark is asked",
    "tooling": "our CLI, packaging, docs, settings table, fleet and page: code that makes no Spark call",
    "components": "real external components (Docker, Kafka, S3), set up once, with one line's jars",
}


def default_line_reason(item: pytest.Item) -> tuple[str, str] | None:
    """The (marker, reason) that keeps ``item`` on the default Spark line, or None for every line."""
    for name in DEFAULT_LINE_MARKERS:
        marker = item.get_closest_marker(name)
        if marker is None:
            continue
        reason = marker.args[0] if marker.args else marker.kwargs.get("reason")
        if not isinstance(reason, str) or not reason.strip() or "\n" in reason:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.{name} needs one line saying why Spark's version "
                "cannot change this test's result"
            )
        return name, reason.strip()
    return None


def pytest_configure(config: pytest.Config) -> None:
    # The process that prints the summary (the only one without xdist, the controller with it) clears
    # the last run's report, so a run that dies before collecting cannot be summed up from it.
    report = os.environ.get("STOPSTREAMING_SPLIT_REPORT")
    if report and not hasattr(config, "workerinput"):
        try:
            os.unlink(report)
        except FileNotFoundError:
            pass


def _quick_files() -> set[str] | None:
    files = os.environ.get("STOPSTREAMING_QUICK_FILES")
    if files is None:
        return None
    return {os.path.abspath(f) for f in files.split(os.pathsep) if f}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    split: dict[str, list[dict[str, str]]] = {"every_line": [], "default_line": []}
    keep: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    on_matrix = bool(os.environ.get("STOPSTREAMING_MATRIX_LINE"))
    quick = _quick_files()
    for item in items:
        where = default_line_reason(item)
        if where is None:
            split["every_line"].append({"test": item.nodeid})
        else:
            split["default_line"].append({"test": item.nodeid, "marker": where[0], "reason": where[1]})
        # `make test-quick`: the smoke set and the tests of the files a change touched.
        if quick is not None and "smoke" not in item.keywords and os.path.abspath(item.path) not in quick:
            deselected.append(item)
        elif on_matrix and where is not None:
            deselected.append(item)
        else:
            keep.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep
    config.stash[_SPLIT] = split
    report = os.environ.get("STOPSTREAMING_SPLIT_REPORT")
    if report:
        # Each pytest-xdist worker collects the same items and writes the same report: one rename each.
        tmp = f"{report}.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(split, f, indent=1)
        os.replace(tmp, report)


_SPLIT = pytest.StashKey[dict]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    split = config.stash.get(_SPLIT, None)
    report = os.environ.get("STOPSTREAMING_SPLIT_REPORT")
    if split is None and report and os.path.exists(report):
        # Under pytest-xdist the workers collect; this process only reads what they wrote.
        with open(report, encoding="utf-8") as f:
            split = json.load(f)
    if not split:
        return
    by_marker: dict[str, int] = {}
    for t in split["default_line"]:
        by_marker[t["marker"]] = by_marker.get(t["marker"], 0) + 1
    where = "left out on this line" if os.environ.get("STOPSTREAMING_MATRIX_LINE") else "run here only"
    detail = ", ".join(f"{n} {m}" for m, n in sorted(by_marker.items()))
    terminalreporter.write_line(
        f"stopstreaming: {len(split['every_line'])} tests for every Spark line; "
        f"{len(split['default_line'])} for the default line ({where}): {detail or 'none'}"
    )


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 30.0,
    every: float = 0.05,
    what: str = "",
) -> Any:
    """Poll until ``predicate()`` is truthy and return its value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(every)


# A driver app of the tests runs until a test stops it; this bound only ends an app whose test died.
APP_LIFETIME = 600.0


def _execution_thread(query: Any) -> Any:
    """The JVM thread that runs ``query``'s batches, or None for a query without a JVM (Connect)."""
    jsq = getattr(query, "_jsq", None)
    return None if jsq is None else jsq.streamingQuery().queryExecutionThread()


def ended(query: Any, timeout: float = 60.0, what: str | None = None) -> None:
    """Wait up to ``timeout`` seconds for ``query``'s real end, then raise its error if it failed.

    Use it wherever a bare ``awaitTermination()`` would hang CI on a stop that never comes; it fails
    with the query's status instead. ``awaitTermination(timeout)`` alone is not enough: a graceful
    stop flips the query's state to TERMINATED first, so it answers True while the query's thread
    still finishes its batch (or sleeps until its next trigger). This waits for that thread.
    """
    thread = _execution_thread(query)
    if thread is not None:
        thread.join(max(1, int(timeout * 1000)))  # Java's join(0) waits for ever
        running = thread.isAlive()
    else:
        # Spark Connect: the server drops a query from the active list once its thread ended.
        deadline, streams = time.monotonic() + timeout, query._session.streams
        while (running := any(q.id == query.id for q in streams.active)) and time.monotonic() < deadline:
            time.sleep(0.1)
    if running:
        label = what or f"query {query.name or query.id}"
        raise AssertionError(f"{label} still runs after {timeout:g}s (status: {query.status})")
    # The thread has ended: this returns at once, raising the query's error as the bare call would.
    query.awaitTermination(1)


@pytest.fixture(scope="session")
def stop_dir() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="stopstreaming-stopdir-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def spark(stop_dir: str) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]")
        .appName("stopstreaming-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
    )
    session = stopstreaming.configure(
        builder,
        rest_port=0,
        rest_host="127.0.0.1",
        auth_token=TOKEN,
        fs_stop_dir=stop_dir,
        fs_poll_interval="200ms",
        rest_allowed_origins="https://ops.example.com",
    ).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@dataclass
class Api:
    """A tiny HTTP helper bound to the test driver's control server."""

    url: str
    token: str | None = TOKEN

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        h.update(extra or {})
        return h

    def get(self, path: str, **kw: Any) -> requests.Response:
        return requests.get(
            self.url + path,
            headers=self.headers(kw.pop("headers", None)),
            timeout=60,
            **kw,
        )

    def post(self, path: str, **kw: Any) -> requests.Response:
        return requests.post(
            self.url + path,
            headers=self.headers(kw.pop("headers", None)),
            timeout=120,
            **kw,
        )

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(
            method,
            self.url + path,
            headers=self.headers(kw.pop("headers", None)),
            timeout=60,
            **kw,
        )

    def query(self, id_or_name: str) -> dict[str, Any]:
        r = self.get(f"/api/v1/queries/{id_or_name}")
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="session")
def api(spark: Any) -> Api:
    return Api(stopstreaming.control_url(spark))


# A managed query in one of these states is over; any other state still holds its name and recipe.
_MANAGED_FINAL = {"STOPPED", "FAILED"}


def _sql_conf(spark: Any) -> dict[str, str]:
    return {row.key: row.value for row in spark.sql("SET").collect()}


def _live_managed(api: Api) -> set[str]:
    r = api.get("/api/v1/managed")
    assert r.status_code == 200, r.text
    return {m["name"] for m in r.json()["managed"] if m["state"] not in _MANAGED_FINAL}


def _stop_files(stop_dir: str) -> set[str]:
    return set(os.listdir(stop_dir))


@pytest.fixture(autouse=True)
def _shared_session_stays_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a SQL conf key, a live managed query or a stop file on the shared
    session (each would change the tests after it), after putting them back as they were.

    Streaming queries left running are stopped without failing the test.
    """
    if "spark" not in request.fixturenames:
        yield
        return
    spark, api = request.getfixturevalue("spark"), request.getfixturevalue("api")
    stop_dir = request.getfixturevalue("stop_dir")
    conf, managed, files = _sql_conf(spark), _live_managed(api), _stop_files(stop_dir)
    yield
    leaks: list[str] = []
    left = sorted(_live_managed(api) - managed)
    if left:
        leaks.append(f"managed queries still live: {left}")
        for name in left:
            api.post(f"/api/v1/queries/{name}/stop", params={"wait": "60s"})
    for q in spark.streams.active:
        try:
            q.stop()
        except Exception:  # noqa: BLE001 - best effort cleanup between tests
            pass
    now = _sql_conf(spark)
    changed = sorted(k for k in conf.keys() | now.keys() if conf.get(k) != now.get(k))
    if changed:
        leaks.append("SQL conf keys changed: " + ", ".join(f"{k}={now.get(k)!r}" for k in changed))
        for k in changed:
            if k in conf:
                spark.conf.set(k, conf[k])
            else:
                spark.conf.unset(k)
    # The watcher consumes a marker on its next poll (200 ms): give it a few before blaming the test.
    deadline = time.monotonic() + 3
    while (extra := sorted(_stop_files(stop_dir) - files)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if extra:
        leaks.append(f"files in the stop directory: {extra}")
        for name in extra:
            path = os.path.join(stop_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    if leaks:
        pytest.fail("the test left state on the shared Spark session: " + "; ".join(leaks), pytrace=False)


@pytest.fixture
def tmpdir_path() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="stopstreaming-test-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@dataclass
class BatchRecorder:
    """A ``foreachBatch`` function that logs the begin and end of each batch, across restarts.

    Each batch sleeps (the "processing"), then runs a Spark job (the "write"), then logs its end,
    the way a real sink spends most of a batch before it writes.
    """

    seconds: float = 1.0
    events: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, df: Any, batch_id: int) -> None:
        with self.lock:
            self.events.append(("begin", batch_id))
        time.sleep(self.seconds)
        df.count()
        with self.lock:
            self.events.append(("end", batch_id))

    def ids(self, kind: str) -> list[int]:
        with self.lock:
            return [b for k, b in self.events if k == kind]

    def in_flight(self) -> bool:
        return len(self.ids("begin")) > len(self.ids("end"))


def start_recorded(
    spark: Any,
    recorder: BatchRecorder,
    checkpoint: str,
    name: str | None = None,
    trigger: dict[str, Any] | None = None,
) -> Any:
    """Start a rate-source query whose batches go to ``recorder``."""
    w = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", 20)
        .load()
        .writeStream.foreachBatch(recorder)
        .option("checkpointLocation", checkpoint)
    )
    if name:
        w = w.queryName(name)
    if trigger:
        w = w.trigger(**trigger)
    return w.start()


def start_noop(spark: Any, name: str | None = None, trigger: dict[str, Any] | None = None) -> Any:
    """Start a cheap rate -> noop query."""
    w = spark.readStream.format("rate").option("rowsPerSecond", 1).load().writeStream.format("noop")
    if name:
        w = w.queryName(name)
    if trigger:
        w = w.trigger(**trigger)
    return w.start()


SCRIPT = shutil.which("stopstreaming", path=os.path.dirname(sys.executable)) or "stopstreaming"


def run_cli(
    api, *args: str, token: str | None = TOKEN, url: str | None = None
) -> subprocess.CompletedProcess:
    """Run the installed ``stopstreaming`` console script against the test driver."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOPSTREAMING_")}
    env["STOPSTREAMING_URL"] = url or api.url
    if token:
        env["STOPSTREAMING_TOKEN"] = token
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120)


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_batch_log(path: str) -> list[tuple[str, int]]:
    """The ``BEGIN n`` / ``END n`` lines a spark-submit test application wrote, in order."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [(a, int(b)) for a, b in (line.split() for line in f if line.strip())]


def batch_in_flight(path: str) -> bool:
    """Whether the logged batches include one that began and has not ended."""
    ev = read_batch_log(path)
    return sum(k == "BEGIN" for k, _ in ev) > sum(k == "END" for k, _ in ev)


def spark_env() -> dict[str, str]:
    """Environment for spark-submit / spark-class of the installed PySpark, whatever PATH holds."""
    import pyspark

    return {
        **os.environ,
        "SPARK_HOME": os.path.dirname(pyspark.__file__),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def stopstreaming_threads(spark: Any) -> int:
    """How many live driver threads belong to stopstreaming."""
    return int(spark._jvm.io.github.stopstreaming.core.NamedThreads.count())


os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def examples_jar() -> str:
    """The Scala example application's jar for the installed PySpark's Spark line (`make build` makes it)."""
    import pyspark

    line = stopstreaming.spark_line(pyspark.__version__)
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target", "examples",
                        f"stopstreaming-examples-{line}.jar")  # fmt: skip
    assert os.path.isfile(path), f"{path} is missing: run `make build`"
    return path


@dataclass
class Driver:
    """A driver process of tests/apps/control_app.py: its control URL and its output so far."""

    proc: subprocess.Popen
    url: str
    out_path: str

    def output(self) -> str:
        with open(self.out_path, encoding="utf-8", errors="replace") as f:
            return f.read()


@pytest.fixture
def start_driver(tmp_path: Any) -> Iterator[Callable[..., Driver]]:
    """Start driver processes with configure() options and named queries; each is killed at the end."""
    started: list[Driver] = []
    app = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps", "control_app.py")

    def start(options: dict[str, Any], *names: str, env: dict[str, str] | None = None) -> Driver:
        out_path = str(tmp_path / f"driver-{len(started)}.out")
        options_path = tmp_path / f"driver-{len(started)}.options.json"
        options_path.write_text(json.dumps(options), encoding="utf-8")
        out = open(out_path, "w", encoding="utf-8")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, app, str(options_path), *names],
            stdout=out, stderr=subprocess.STDOUT, env={**spark_env(), **(env or {})},
        )  # fmt: skip

        def ready() -> str | None:
            with open(out_path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            if proc.poll() is not None:
                raise AssertionError(f"the driver exited early:\n{text[-3000:]}")
            lines = [ln for ln in text.splitlines() if ln.startswith("READY ")]
            return lines[0].split(" ", 1)[1] if lines else None

        driver = Driver(proc, wait_for(ready, timeout=180, what="the driver to be ready"), out_path)
        started.append(driver)
        return driver

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(timeout=30)
