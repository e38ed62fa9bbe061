"""A real Kafka broker (KRaft, one node, on 127.0.0.1) read by Spark's own Kafka source into a
non-idempotent sink: graceful stops in mid-batch through the HTTP API, restarts from the checkpoint,
then a caught-up drain. Every record must land exactly once and no batch id twice.

The broker and the Kafka source are jars fetched from Maven Central by their coordinates
(tests/maven_jars.py, cached); the test runs on the default Spark line only (marker `components`).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import maven_jars
import pytest
import requests

from conftest import free_port, spark_env, wait_for

pytestmark = [
    pytest.mark.components("a real Kafka broker and the Kafka source jar of one Spark line, set up once"),
    pytest.mark.timeout(900),
]

KAFKA = "org.apache.kafka:kafka_2.13:4.1.1"
APP = Path(__file__).parent / "apps" / "kafka_sink_app.py"


def spark_kafka_jars() -> list[str]:
    """Spark's Kafka source for the running Spark line: its newest release not above the running
    Spark, with exactly the jars it needs beside Spark's own (the versions its POM names)."""
    import pyspark

    running = pyspark.__version__.split("+")[0]
    line = ".".join(running.split(".")[:2])
    # Each is taken at its own newest release of the line: not every Spark release publishes both
    # (on 4.1, the source has 4.1.3 and the token provider only 4.1.1).
    # Spark 3.5 is built for Scala 2.12 and Kafka 3.4; Spark 4 for Scala 2.13 (the versions their POMs name).
    old = line.startswith("3.")
    scala, clients, pool = ("2.12", "3.4.1", "2.11.1") if old else ("2.13", "3.9.1", "2.12.1")
    source, tokens = (
        maven_jars.newest_release("org.apache.spark", f"{a}_{scala}", line, running)
        for a in ("spark-sql-kafka-0-10", "spark-token-provider-kafka-0-10")
    )
    return maven_jars.fetch(
        "spark-kafka",
        [
            f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{source}",
            f"org.apache.spark:spark-token-provider-kafka-0-10_{scala}:{tokens}",
            f"org.apache.kafka:kafka-clients:{clients}",
            f"org.apache.commons:commons-pool2:{pool}",
        ],
        transitive=False,
    )


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A single-node KRaft broker; yields its bootstrap address."""
    jars = maven_jars.fetch("kafka-broker", [KAFKA])
    home = tmp_path_factory.mktemp("kafka")
    port, controller = free_port(), free_port()
    props = home / "server.properties"
    props.write_text(
        "\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={home / 'data'}", "num.partitions=2", "auto.create.topics.enable=true",
            "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1", "group.initial.rebalance.delay.ms=0",
        ]) + "\n"
    )  # fmt: skip
    java = ["java", "-Xmx384m", "-cp", os.pathsep.join(jars)]
    cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    subprocess.run([*java, "kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(props)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    log = open(home / "broker.log", "w")  # noqa: SIM115 - closed below
    broker = subprocess.Popen([*java, "kafka.Kafka", str(props)], stdout=log, stderr=subprocess.STDOUT)

    def listening() -> bool:
        import socket

        if broker.poll() is not None:
            raise AssertionError(f"the broker exited: {(home / 'broker.log').read_text()[-2000:]}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, timeout=120, every=0.2, what="the Kafka broker")
    yield f"127.0.0.1:{port}"
    broker.terminate()
    try:
        broker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        broker.kill()
    log.close()


class Run:
    """One run of the app (one driver JVM), from its start to its exit."""

    def __init__(self, options: dict[str, Any], out: Path) -> None:
        self.log = out
        self.f = open(out, "w")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen([sys.executable, str(APP), json.dumps(options)],
                                     stdout=self.f, stderr=subprocess.STDOUT, env=spark_env())  # fmt: skip
        self.url = wait_for(self._ready, timeout=240, every=0.2, what="the app to start")

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def _ready(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError("the app exited early:\n" + "\n".join(self.lines()[-40:]))
        return next((ln.split(" ", 1)[1] for ln in self.lines() if ln.startswith("READY ")), None)

    def batches(self, kind: str) -> list[int]:
        return [int(ln.split()[1]) for ln in self.lines() if ln.startswith(kind + " ")]

    def in_flight(self) -> int | None:
        begun, ended = self.batches("BEGIN"), set(self.batches("END"))
        open_ = [b for b in begun if b not in ended]
        return open_[-1] if open_ else None

    def wait(self) -> None:
        self.proc.wait(timeout=120)
        self.f.close()
        assert self.proc.returncode == 0, "\n".join(self.lines()[-40:])


def test_graceful_stops_in_mid_batch_and_a_drain_deliver_every_record_once(kafka, tmp_path):
    jars = spark_kafka_jars()
    out, ckpt = tmp_path / "sink.txt", tmp_path / "ckpt"
    base = {"bootstrap": kafka, "topic": "orders", "checkpoint": str(ckpt), "out": str(out), "jars": jars,
            "max_offsets": 300, "batch_seconds": 0.4}  # fmt: skip
    first, second = 2500, 2500
    runs: list[Run] = []
    stopped_in_flight: list[int] = []
    for i, produce in enumerate([[0, first], [first, second]]):
        run = Run({**base, "produce": produce}, tmp_path / f"run-{i}.log")
        runs.append(run)
        # Stop while a batch is in its sink, past the first one of this run.
        start_at = len(run.batches("BEGIN"))
        batch = wait_for(
            lambda run=run, start_at=start_at: len(run.batches("BEGIN")) > start_at + 1 and run.in_flight(),
            timeout=180, every=0.02, what="a batch in flight",
        )  # fmt: skip
        r = requests.post(f"{run.url}/api/v1/queries/kafka-orders/stop", params={"wait": "120s"}, timeout=180)
        assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED", r.text
        run.wait()
        assert batch in run.batches("END"), f"the batch in flight ({batch}) must finish: {run.lines()[-10:]}"
        stopped_in_flight.append(batch)

    # The last run drains what is left, then stops; the waiting request is answered at the end.
    run = Run({**base, "produce": None}, tmp_path / "run-drain.log")
    r = requests.post(f"{run.url}/api/v1/queries/kafka-orders/stop",
                      params={"when": "caught-up", "wait": "300s"}, timeout=400)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["stop"]["state"] == "STOPPED" and "caught-up" in r.json()["stop"]["detail"]
    run.wait()

    rows = [ln.split() for ln in out.read_text().splitlines()]
    values = Counter(int(v) for _, v in rows)
    assert len(values) == first + second and set(values) == set(range(first + second))
    twice = {v: n for v, n in values.items() if n > 1}
    assert not twice, f"records written more than once: {sorted(twice)[:20]}"
    # A batch id appears in one run only: a batch that ran twice would show in two.
    per_run = [set(r.batches("END")) for r in [*runs, run]]
    for a in range(len(per_run)):
        for b in range(a + 1, len(per_run)):
            assert not per_run[a] & per_run[b], f"batches run twice: {per_run[a] & per_run[b]}"
    # And in the file each batch's lines are one block: no batch appended twice.
    blocks = [b for i, (b, _) in enumerate(rows) if i == 0 or rows[i - 1][0] != b]
    assert len(blocks) == len(set(blocks)), f"a batch id appears in two blocks: {blocks}"
    assert stopped_in_flight, "each run was stopped with a batch in flight"
