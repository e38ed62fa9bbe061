"""Stateful workloads for tests/test_workloads_*.py: event-time input files, a non-idempotent sink, and
each query's batch-mode twin, the oracle its streaming output must equal.

Input: JSON files of rows ``{key, ts, v}``, one file per batch (``maxFilesPerTrigger`` 1), each file's
event times ten seconds after the previous one's, so no row is ever late for a 5 s watermark. The last
file of every input is a *flush* row an hour ahead (key ``__flush__``): the watermark then passes every
real window, join and duplicate, so the finished stream has emitted all of them. The oracle runs the
same query in batch mode over the real rows only; the sink drops the flush key's own rows.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conftest import BatchRecorder, ended

FLUSH = "__flush__"
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
SCHEMA = "key STRING, ts TIMESTAMP, v INT"
ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"


def _ts(seconds: float) -> str:
    return (EPOCH + datetime.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _with_flush(files: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    last = max((r["ts"] for rows in files for r in rows), default=0.0)
    return [*files, [{"key": FLUSH, "ts": last + 3600, "v": 0}]]


def write_inputs(folder: str, files: list[list[dict[str, Any]]]) -> None:
    """Write one JSON-lines file per entry of ``files``, then the flush file, with increasing modification
    times (the file source takes files in that order). Rows give ``ts`` in seconds after EPOCH."""
    os.makedirs(folder, exist_ok=True)
    base = time.time() - 10_000
    for i, rows in enumerate(_with_flush(files)):
        path = os.path.join(folder, f"part-{i:03d}.json")
        tmp = os.path.join(os.path.dirname(folder), f".{os.path.basename(folder)}-{i}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps({**r, "ts": _ts(r["ts"])}) + "\n" for r in rows)
        os.utime(tmp, (base + i, base + i))
        os.replace(tmp, path)


def write_delta_inputs(spark: Any, folder: str, files: list[list[dict[str, Any]]]) -> None:
    """The same input as a Delta table: one commit of one data file per entry, then the flush commit."""
    for rows in _with_flush(files):
        data = [(r["key"], EPOCH + datetime.timedelta(seconds=r["ts"]), r["v"]) for r in rows]
        spark.createDataFrame(data, SCHEMA).coalesce(1).write.format("delta").mode("append").save(folder)


@dataclass
class JsonSink(BatchRecorder):
    """A ``foreachBatch`` sink that appends every row it is handed (as JSON, with its batch id) at once,
    then takes ``seconds`` more (the rest of the batch's work): a batch cut after its rows landed and
    run again by the restart shows its rows twice, as a non-idempotent sink would."""

    seconds: float = 0.4
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, df: Any, batch_id: int) -> None:
        from pyspark.sql import functions as F

        with self.lock:
            self.events.append(("begin", batch_id))
        got = [json.loads(r[0]) for r in df.select(F.to_json(F.struct("*"))).collect()]
        with self.lock:
            kept = [(batch_id, r) for r in got if FLUSH not in json.dumps(r)]
            self.rows.extend(kept)
            self.events.append(("rows" if kept else "no rows", batch_id))
        self.write(df, batch_id)
        time.sleep(self.seconds)
        with self.lock:
            self.events.append(("end", batch_id))

    def write(self, df: Any, batch_id: int) -> None:
        """A further write of the batch (a table, say); none here."""

    def written_in_flight(self) -> bool:
        """Some of a batch's rows are in the sink and the batch has not ended: a cut now leaves them."""
        with self.lock:
            return bool(self.events) and self.events[-1][0] == "rows"

    def batches_written(self) -> list[int]:
        return self.ids("end")


@dataclass
class DeltaTableSink(JsonSink):
    """A JsonSink that also appends each batch's rows to a Delta table with ``txnAppId``/``txnVersion``,
    the idempotent ``foreachBatch`` write Delta's docs give: Delta itself skips a batch run again, so
    the table alone cannot show a cut (the JSON rows and the inspector do)."""

    table: str = ""

    def write(self, df: Any, batch_id: int) -> None:
        from pyspark.sql import functions as F

        rows = df.where(~F.to_json(F.struct(*df.columns)).contains(FLUSH))
        w = rows.write.format("delta").mode("append").option("txnAppId", "stopstreaming-workload")
        w.option("txnVersion", batch_id).save(self.table)


class FileSink:
    """The same sink for a driver of its own (tests/apps/workload_app.py): JSON lines appended to a file,
    ``begin``, each row, then ``end`` of every batch; ``JsonSink.load`` reads it back."""

    def __init__(self, path: str, seconds: float = 0.4) -> None:
        self.path, self.seconds = path, seconds

    def _append(self, records: list[dict[str, Any]]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)

    def __call__(self, df: Any, batch_id: int) -> None:
        from pyspark.sql import functions as F

        self._append([{"begin": batch_id}])
        got = [json.loads(r[0]) for r in df.select(F.to_json(F.struct("*"))).collect()]
        kept = [{"batch": batch_id, "row": r} for r in got if FLUSH not in json.dumps(r)]
        self._append([*kept, {"rows" if kept else "no rows": batch_id}])
        time.sleep(self.seconds)
        self._append([{"end": batch_id}])


def load_sink(path: str) -> JsonSink:
    """A FileSink's file as a JsonSink (its rows and begin/end events), for the same checks."""
    sink = JsonSink()
    if not os.path.exists(path):
        return sink
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # the driver is writing this line now
            r = json.loads(line)
            if "begin" in r:
                sink.events.append(("begin", r["begin"]))
            elif "rows" in r or "no rows" in r:
                kind = "rows" if "rows" in r else "no rows"
                sink.events.append((kind, r[kind]))
            elif "end" in r:
                sink.events.append(("end", r["end"]))
            else:
                sink.rows.append((r["batch"], r["row"]))
    return sink


@dataclass
class Workload:
    """A stateful query over input folders: ``stream(spark, dfs)`` builds it from streaming frames,
    ``batch(spark, dfs)`` the same query over batch frames of the real rows. In ``update`` mode the
    last row of each ``key`` must equal the oracle's; in ``append`` mode the rows, each exactly once."""

    name: str
    inputs: dict[str, list[list[dict[str, Any]]]]
    stream: Callable[[Any, dict[str, Any]], Any]
    batch: Callable[[Any, dict[str, Any]], Any]
    mode: str = "append"
    key: tuple[str, ...] = ()
    source: str = "json"


def read(spark: Any, root: str, workload: Workload, streaming: bool) -> dict[str, Any]:
    from pyspark.sql import functions as F

    frames = {}
    for name in workload.inputs:
        path = os.path.join(root, name)
        if workload.source == "delta":
            reader = spark.readStream.option("maxFilesPerTrigger", 1) if streaming else spark.read
            df = reader.format("delta").load(path)
            frames[name] = df if streaming else df.where(F.col("key") != FLUSH)
        elif streaming:
            frames[name] = spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1).json(path)
        else:
            frames[name] = spark.read.schema(SCHEMA).json(path).where(F.col("key") != FLUSH)
    return frames


def oracle_rows(spark: Any, root: str, workload: Workload) -> list[dict[str, Any]]:
    from pyspark.sql import functions as F

    df = workload.batch(spark, read(spark, root, workload, streaming=False))
    return [json.loads(r[0]) for r in df.select(F.to_json(F.struct("*"))).collect()]


def canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def final_rows(sink: JsonSink, workload: Workload) -> list[dict[str, Any]]:
    """What the sink holds in the end: every row (append), or the last row per key (update)."""
    with sink.lock:
        rows = list(sink.rows)
    if workload.mode == "append":
        return [r for _, r in rows]
    last: dict[str, dict[str, Any]] = {}
    for _, r in sorted(rows, key=lambda br: br[0]):
        last[json.dumps([r.get(k) for k in workload.key], sort_keys=True)] = r
    return list(last.values())


# --- the workloads ---------------------------------------------------------------------------------


def _steps(n: int, keys: int = 3) -> list[list[dict[str, Any]]]:
    """``n`` files of rows: file i has, for each key, two rows in [10 i, 10 i + 10) seconds."""
    return [
        [
            {"key": f"k{k}", "ts": 10 * i + 1 + 4 * j + k * 0.5, "v": i * 10 + k}
            for k in range(keys)
            for j in range(2)
        ]
        for i in range(n)
    ]


def windows(mode: str, sliding: bool = False, files: int = 7) -> Workload:
    from pyspark.sql import functions as F

    def window_of(df: Any) -> Any:
        return F.window("ts", "10 seconds", "5 seconds") if sliding else F.window("ts", "10 seconds")

    def stream(spark: Any, dfs: dict[str, Any]) -> Any:
        df = dfs["events"].withWatermark("ts", "5 seconds")
        return df.groupBy(window_of(df), "key").agg(F.count("*").alias("n"), F.sum("v").alias("total"))

    def batch(spark: Any, dfs: dict[str, Any]) -> Any:
        df = dfs["events"]
        return df.groupBy(window_of(df), "key").agg(F.count("*").alias("n"), F.sum("v").alias("total"))

    kind = "sliding" if sliding else "tumbling"
    return Workload(f"{kind}-{mode}", {"events": _steps(files)}, stream, batch, mode, ("window", "key"))


def join(how: str, files: int = 7) -> Workload:
    """Left rows each step; right rows for keys k0 and k1 only, 2 s after their left row: k2 never
    matches (a left-outer join emits it with nulls once the watermark passes its time bound)."""
    from pyspark.sql import functions as F

    left = _steps(files)
    right = [
        [{**r, "ts": r["ts"] + 2, "v": r["v"] + 1000} for r in rows if r["key"] != "k2"] for rows in left
    ]

    def joined(dfs: dict[str, Any], watermark: bool) -> Any:
        lft = dfs["left"].select(F.col("key").alias("lkey"), F.col("ts").alias("lts"), F.col("v").alias("lv"))
        rgt = dfs["right"].select(
            F.col("key").alias("rkey"), F.col("ts").alias("rts"), F.col("v").alias("rv")
        )
        if watermark:
            lft, rgt = lft.withWatermark("lts", "5 seconds"), rgt.withWatermark("rts", "5 seconds")
        cond = (F.col("lkey") == F.col("rkey")) & F.col("rts").between(
            F.col("lts"), F.col("lts") + F.expr("INTERVAL 5 SECONDS")
        )
        return lft.join(rgt, cond, how)

    return Workload(
        f"join-{how}", {"left": left, "right": right},
        lambda s, d: joined(d, True), lambda s, d: joined(d, False),
    )  # fmt: skip


def dedup(within_watermark: bool, files: int = 7) -> Workload:
    """Each step repeats some of the previous step's ids 5 s later: still within the watermark's reach."""
    from pyspark.sql import functions as F

    steps = []
    for i in range(files):
        rows = [{"key": f"id-{i}-{k}", "ts": 10 * i + 1 + k, "v": k} for k in range(4)]
        if i:
            rows += [
                {
                    "key": f"id-{i - 1}-{k}",
                    "ts": 10 * (i - 1) + 1 + k + (5 if within_watermark else 0),
                    "v": k,
                }
                for k in range(2)
            ]
        steps.append(rows)

    def stream(spark: Any, dfs: dict[str, Any]) -> Any:
        df = dfs["events"].withWatermark("ts", "8 seconds")
        if within_watermark:
            return df.dropDuplicatesWithinWatermark(["key"]).select("key", "ts")
        return df.dropDuplicates(["key", "ts"]).select("key", "ts")

    def batch(spark: Any, dfs: dict[str, Any]) -> Any:
        df = dfs["events"]
        if within_watermark:
            # The first of a key's rows is kept: its repeats come a step later, with a later time.
            return df.groupBy("key").agg(F.min("ts").alias("ts"))
        return df.select("key", "ts").distinct()

    name = "dedup-within-watermark" if within_watermark else "dedup"
    return Workload(name, {"events": steps}, stream, batch)


def _sessions(files: int) -> list[list[dict[str, Any]]]:
    """File i holds two rows of each session s{i-2}, s{i-1}, s{i}: a session spans three files (30 s of
    event time, gaps under 10 s) and then goes quiet, so sessions time out one after another mid-stream."""
    return [
        [
            {"key": f"s{j}", "ts": 10 * i + 1 + 3 * k + (i - j) * 0.2, "v": 100 * j + 10 * (i - j) + k}
            for j in range(max(0, i - 2), i + 1)
            for k in range(2)
        ]
        for i in range(files)
    ]


def delta_windows() -> Workload:
    """Tumbling window counts (append) read from a Delta table, one commit a batch."""
    workload = windows("append")
    workload.name, workload.source = "delta-tumbling-append", "delta"
    return workload


def _by_value() -> None:
    """Python workers cannot import this test module: functions of it that a state function calls travel
    inside the pickled function instead of by name."""
    import sys

    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


SESSION_GAP_MS = 8_000
SESSION_SCHEMA = "key STRING, n LONG, total LONG, first_ms LONG, last_ms LONG"


def _session_oracle(dfs: dict[str, Any]) -> Any:
    from pyspark.sql import functions as F

    return dfs["events"].groupBy("key").agg(
        F.count("*").alias("n"), F.sum("v").alias("total"),
        F.expr("min(unix_millis(ts))").alias("first_ms"), F.expr("max(unix_millis(ts))").alias("last_ms"),
    )  # fmt: skip


def _add_session(acc: tuple | None, pdf: Any) -> tuple:
    """(n, total, first_ms, last_ms) of a session after the rows of ``pdf``."""
    n, total, first, last = acc or (0, 0, None, None)
    ms = [int(x) for x in pdf["ms"]]
    n, total = n + len(pdf), total + int(pdf["v"].sum())
    first = min([first, *ms]) if first is not None else min(ms)
    last = max([last, *ms]) if last is not None else max(ms)
    return n, total, first, last


def _session_frame(key: str, acc: tuple) -> Any:
    import pandas as pd

    n, total, first, last = acc
    return pd.DataFrame({"key": [key], "n": [n], "total": [total], "first_ms": [first], "last_ms": [last]})


def sessions_with_state(files: int = 12) -> Workload:
    """``applyInPandasWithState`` with an event-time timeout: each key's session is emitted (append)
    once the watermark passes its last row plus an 8 s gap (its rows are at most 7.2 s apart), and its
    state removed."""
    from pyspark.sql import functions as F

    _by_value()

    def emit(key: tuple, pdfs: Any, state: Any) -> Any:
        if state.hasTimedOut:
            acc = state.get
            state.remove()
            yield _session_frame(key[0], acc)
            return
        acc = state.get if state.exists else None
        for pdf in pdfs:
            if len(pdf):
                acc = _add_session(acc, pdf)
        if acc is not None:
            state.update(acc)
            state.setTimeoutTimestamp(acc[3] + SESSION_GAP_MS)

    def stream(spark: Any, dfs: dict[str, Any]) -> Any:
        df = dfs["events"].withWatermark("ts", "5 seconds").withColumn("ms", F.expr("unix_millis(ts)"))
        return df.groupBy("key").applyInPandasWithState(
            emit, SESSION_SCHEMA, "n LONG, total LONG, first_ms LONG, last_ms LONG",
            "append", "EventTimeTimeout",
        )  # fmt: skip

    name = "sessions-applyInPandasWithState"
    return Workload(name, {"events": _sessions(files)}, stream, lambda s, d: _session_oracle(d))


def sessions_with_timers(files: int = 12) -> Workload:
    """``transformWithStateInPandas`` (Spark 4) with an event-time timer per session: the same sessions
    as ``sessions_with_state``, emitted by ``handleExpiredTimer``."""
    from pyspark.sql import functions as F
    from pyspark.sql.streaming.stateful_processor import StatefulProcessor

    _by_value()

    class Sessions(StatefulProcessor):
        def init(self, handle: Any) -> None:
            self.handle = handle
            self.session = handle.getValueState("session", "n LONG, total LONG, first_ms LONG, last_ms LONG")

        def handleInputRows(self, key: tuple, rows: Any, timerValues: Any) -> Any:
            acc = self.session.get() if self.session.exists() else None
            before = acc[3] if acc else None
            for pdf in rows:
                if len(pdf):
                    acc = _add_session(acc, pdf)
            if acc is not None:
                self.session.update(acc)
                if before is not None and before != acc[3]:
                    self.handle.deleteTimer(before + SESSION_GAP_MS)
                self.handle.registerTimer(acc[3] + SESSION_GAP_MS)
            return iter([])

        def handleExpiredTimer(self, key: tuple, timerValues: Any, expiredTimerInfo: Any) -> Any:
            if self.session.exists():
                acc = tuple(self.session.get())
                self.session.clear()
                yield _session_frame(key[0], acc)

        def close(self) -> None:
            pass

    def stream(spark: Any, dfs: dict[str, Any]) -> Any:
        df = dfs["events"].withWatermark("ts", "5 seconds").withColumn("ms", F.expr("unix_millis(ts)"))
        return df.groupBy("key").transformWithStateInPandas(Sessions(), SESSION_SCHEMA, "append", "EventTime")

    return Workload(
        "sessions-transformWithStateInPandas", {"events": _sessions(files)}, stream,
        lambda s, d: _session_oracle(d),
    )  # fmt: skip


# --- the run: pause, resume, restart, stop, start again, drain -------------------------------------


def by_name(name: str) -> Workload:
    """The workloads a driver of its own can run, by name (tests/apps/workload_app.py)."""
    return {"tumbling-append": lambda: windows("append"), "join-left_outer": lambda: join("left_outer")}[
        name
    ]()


def starter(root: str, checkpoint: str, workload: Workload, sink: Any, trigger: dict | None = None):
    """The function that starts the workload's query from its checkpoint, on RocksDB, into ``sink``."""

    def start(spark: Any) -> Any:
        provider = "spark.sql.streaming.stateStore.providerClass"
        spark.conf.set(provider, ROCKSDB)  # read at the first start; the checkpoint keeps it after
        try:
            df = workload.stream(spark, read(spark, root, workload, streaming=True))
            w = (
                df.writeStream.outputMode(workload.mode).foreachBatch(sink).queryName(workload.name)
                .option("checkpointLocation", checkpoint)
            )  # fmt: skip
            return w.trigger(**(trigger or {"processingTime": "100 milliseconds"})).start()
        finally:
            spark.conf.unset(provider)

    return start


def mid_batch(sink: JsonSink, after: int, wait_for: Callable[..., Any]) -> None:
    """Wait until ``after`` more batches ended and the next one wrote rows and has not ended: the
    moment where a stop that cuts the batch leaves rows that its re-run writes again."""
    done = len(sink.batches_written())
    wait_for(
        lambda: len(sink.batches_written()) >= done + after and sink.written_in_flight(),
        timeout=120, every=0.01, what=f"{after} more batch(es), then one in flight with its rows written",
    )  # fmt: skip


def run_every_stop(spark: Any, tmp_path: Any, workload: Workload, sink: JsonSink | None = None) -> JsonSink:
    """Pause, resume, restart, stop and start again, then drain, each in mid-batch; then check the sink
    against the batch oracle and the checkpoint against the inspector."""
    import stopstreaming
    from conftest import wait_for

    root, ckpt = str(tmp_path / "in"), str(tmp_path / "ckpt")
    for name, files in workload.inputs.items():
        if workload.source == "delta":
            write_delta_inputs(spark, os.path.join(root, name), files)
        else:
            write_inputs(os.path.join(root, name), files)
    sink = sink if sink is not None else JsonSink()
    start = starter(root, ckpt, workload, sink)

    def clean(after: str) -> None:
        report = stopstreaming.inspect_checkpoint(ckpt)
        assert report["clean"], f"after {after}: {report}"
        assert report["lastCommittedBatch"] == max(sink.batches_written()), (after, report)
        assert not sink.in_flight(), f"after {after}: the batch in flight was cut"

    managed = stopstreaming.manage(spark, workload.name, start)
    mid_batch(sink, 1, wait_for)
    assert managed.pause(wait=60)["state"] == "PAUSED"
    clean("a pause")
    assert managed.resume(wait=60)["state"] == "RUNNING"
    mid_batch(sink, 1, wait_for)
    assert managed.restart(wait=60)["state"] == "RUNNING"
    mid_batch(sink, 1, wait_for)
    assert managed.stop(wait=60)["state"] == "STOPPED"
    clean("a graceful stop")

    q = start(spark)  # a new run of the application, from the same checkpoint
    answer = stopstreaming.request_stop(q, when="caught-up", wait="120s")
    assert answer["stop"]["state"] == "STOPPED", answer
    ended(q, what="the drained query")
    clean("a drain")

    written = sink.batches_written()
    assert len(written) == len(set(written)), f"a batch was written twice: {written}"
    assert written == list(range(written[0], written[-1] + 1)), f"a batch is missing: {written}"
    got = canonical(final_rows(sink, workload))
    expected = canonical(oracle_rows(spark, root, workload))
    assert expected, "the oracle is empty: the workload tests nothing"
    assert got == expected, f"{workload.name}: the sink differs from the batch query"
    return sink
