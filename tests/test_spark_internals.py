"""The Spark internals the graceful stop relies on, pinned on every Spark of the matrix.

The stop engine recognises moments in the query thread's stack by name (``StreamThreadFrames``
in the plugin) and reaches the query's state by reflection. If a Spark release renames any of
them, graceful stops would silently fall back to slow or escalating ones; these tests fail
instead.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from conftest import start_noop, wait_for

# A second or two in all, and the first thing to break on a new Spark release.
pytestmark = pytest.mark.smoke


def _frames(spark: Any) -> Any:
    return spark._jvm.io.github.stopstreaming.core.StreamThreadFrames


def _internals(spark: Any) -> Any:
    return spark._jvm.io.github.stopstreaming.core.StreamInternals


def _stack(query: Any) -> list[tuple[str, str]]:
    thread = query._jsq.streamingQuery().queryExecutionThread()
    return [(str(f.getClassName()), str(f.getMethodName())) for f in thread.getStackTrace()]


def test_the_query_state_and_thread_are_reachable(spark):
    q = start_noop(spark, trigger={"processingTime": "1 minute"})
    try:
        internals = _internals(spark)
        assert internals.thread(q._jsq).isDefined(), "queryExecutionThread is gone"
        assert internals.supportsGracefulStop(q._jsq), "the state reference or the TERMINATED object is gone"
    finally:
        q.stop()


def test_an_idle_query_waits_in_the_named_clock_wait(spark):
    q = start_noop(spark, trigger={"processingTime": "1 minute"})
    try:
        wait_for(lambda: q.lastProgress is not None and not q.status["isTriggerActive"], timeout=60)
        name = str(_frames(spark).IdleWaitMethod())
        seen = wait_for(
            lambda: any(m == name for _, m in _stack(q)), timeout=10, what=f"a frame named {name}"
        )
        assert seen
    finally:
        q.stop()


def test_a_batch_in_its_sink_stage_shows_the_named_frames(spark):
    frames = _frames(spark)
    sql_execution = str(frames.SqlExecutionClass())
    micro_batch, run_batch = str(frames.MicroBatchClass()), str(frames.RunBatchMethod())
    inside, release = threading.Event(), threading.Event()

    def sink(df: Any, batch_id: int) -> None:
        inside.set()
        release.wait(60)

    q = spark.readStream.format("rate").load().writeStream.foreachBatch(sink).start()
    try:
        assert inside.wait(60), "no batch started"
        stack = _stack(q)
        assert any(c.startswith(sql_execution) for c, _ in stack), f"no {sql_execution} frame: {stack[:40]}"
        assert any(micro_batch in c and run_batch in m for c, m in stack), f"no {micro_batch}.{run_batch}"
    finally:
        release.set()
        q.stop()


def test_a_trigger_without_data_sleeps_in_the_micro_batch_loop(spark, tmpdir_path):
    frames = _frames(spark)
    sleep, micro_batch = str(frames.NoDataSleepMethod()), str(frames.MicroBatchClass())
    q = spark.readStream.format("text").load(tmpdir_path).writeStream.format("noop").start()
    try:
        wait_for(lambda: q.lastProgress is not None, timeout=60)
        deadline = time.monotonic() + 20
        seen = False
        while not seen and time.monotonic() < deadline:
            stack = _stack(q)
            seen = len(stack) > 1 and stack[0][1] == sleep and stack[1][0].endswith(micro_batch)
        assert seen, f"never saw {sleep} called from {micro_batch} between triggers without data"
    finally:
        q.stop()


def test_a_marked_idle_query_is_woken_through_the_interrupt_lock_and_ends_cleanly(spark):
    # The early wake-up reaches UninterruptibleThread's lock object and its `uninterruptible` flag by
    # reflection; if a Spark renames them, wakeFromTriggerWait returns False and idle stops get slow.
    internals = _internals(spark)
    q = start_noop(spark, trigger={"processingTime": "1 minute"})
    wait_for(lambda: internals.isWaitingForNextTrigger(q._jsq), timeout=60, what="an idle query")
    assert internals.markTerminated(q._jsq)
    assert internals.wakeFromTriggerWait(q._jsq, 50), "UninterruptibleThread's lock is not reachable"
    q.stop()
    assert not q.isActive
    assert q.exception() is None, "an interrupt after the mark must count as a stop, not a failure"
