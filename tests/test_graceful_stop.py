"""Graceful stop over HTTP on real Spark: no batch lost, none repeated after a restart."""

from __future__ import annotations

import random
import time

import pytest

from conftest import BatchRecorder, ended, start_noop, start_recorded, wait_for


def _stop_mid_batch(api, recorder, query, mode: str, delay: float) -> dict:
    wait_for(recorder.in_flight, what="a batch in flight")
    time.sleep(delay)
    r = api.post(f"/api/v1/queries/{query.id}/stop", params={"mode": mode, "wait": "60s"})
    assert r.status_code == 200, r.text
    ended(query)
    return r.json()


@pytest.mark.smoke
def test_graceful_stop_mid_batch_repeats_no_batch_after_restart(spark, api, tmpdir_path):
    """Eight stops at varied points: inside a 1 s batch, and right after a batch ended, while
    the next one is being planned (where Spark 4.1 drops a batch if told to stop too early)."""
    recorder = BatchRecorder(seconds=1.0)
    rng = random.Random(7)
    for cycle in range(8):
        q = start_recorded(spark, recorder, tmpdir_path, name="graceful-cycle")
        done_before = len(recorder.ids("end"))
        wait_for(lambda n=done_before: len(recorder.ids("end")) > n, every=0.005, what="one finished batch")
        if cycle % 2:
            r = api.post(f"/api/v1/queries/{q.id}/stop", params={"wait": "60s"})
            assert r.status_code == 200, r.text
            ended(q)
            body = r.json()
        else:
            body = _stop_mid_batch(api, recorder, q, "graceful", delay=rng.uniform(0.0, 0.8))
        assert body["active"] is False
        assert body["stop"]["state"] == "STOPPED", body
        assert body["stop"]["mode"] == "graceful" and body["stop"]["source"] == "rest"
        assert q.exception() is None
        assert recorder.ids("begin") == recorder.ids("end"), f"cycle {cycle}: a batch was cut"
    begun = recorder.ids("begin")
    assert len(begun) == len(set(begun)), f"a batch id ran twice: {begun}"
    assert begun == list(range(begun[0], begun[0] + len(begun))), f"a batch id was skipped: {begun}"


@pytest.mark.smoke
def test_immediate_stop_mid_batch_runs_that_batch_again(spark, api, tmpdir_path):
    """What immediate costs: the batch in flight is cut (its write job is cancelled), is not
    committed, and runs again on restart. A non-idempotent sink sees it twice."""
    recorder = BatchRecorder(seconds=2.0)
    q = start_recorded(spark, recorder, tmpdir_path)
    wait_for(
        lambda: len(recorder.ids("end")) >= 1 and recorder.in_flight(),
        what="second batch in flight",
    )
    cut = recorder.ids("begin")[-1]
    body = _stop_mid_batch(api, recorder, q, "immediate", delay=0.2)
    assert body["stop"]["state"] == "STOPPED" and body["stop"]["mode"] == "immediate"
    assert cut not in recorder.ids("end"), "the batch in flight was cut before its end"

    q2 = start_recorded(spark, recorder, tmpdir_path)
    n = len(recorder.ids("begin"))
    wait_for(lambda: len(recorder.ids("begin")) > n, what="first batch after restart")
    q2.stop()
    assert recorder.ids("begin")[n] == cut, "the cut batch ran again: immediate stop repeats it"


@pytest.mark.smoke
def test_idle_query_with_ten_minute_trigger_stops_at_once(spark, api):
    q = start_noop(spark, trigger={"processingTime": "10 minutes"})
    wait_for(
        lambda: q.lastProgress is not None and not q.status["isTriggerActive"],
        what="idle query",
    )
    last = q.lastProgress["batchId"]
    r = api.post(f"/api/v1/queries/{q.id}/stop", params={"wait": "30s"})
    assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED", r.text
    # Its next trigger is ten minutes away: a stop that waited for it would not end within the bound.
    ended(q, 60, what="the idle query")
    assert q.lastProgress["batchId"] == last, "no batch ran for the stop"


def test_graceful_stop_past_its_timeout_escalates(spark, api, tmpdir_path):
    recorder = BatchRecorder(seconds=6.0)
    q = start_recorded(spark, recorder, tmpdir_path)
    wait_for(recorder.in_flight, what="a batch in flight")
    r = api.post(f"/api/v1/queries/{q.id}/stop", params={"timeout": "1s", "wait": "60s"})
    assert r.status_code == 200, r.text
    stop = r.json()["stop"]
    assert stop["state"] == "ESCALATED" and stop["code"] == "graceful-timed-out", stop
    assert "1000ms" in stop["detail"]
    ended(q)


def test_stop_accepted_without_wait_answers_202_then_finishes(spark, api, tmpdir_path):
    recorder = BatchRecorder(seconds=2.0)
    q = start_recorded(spark, recorder, tmpdir_path)
    wait_for(recorder.in_flight, what="a batch in flight")
    r = api.post(f"/api/v1/queries/{q.id}/stop")
    assert r.status_code == 202, r.text
    assert r.json()["stop"]["state"] in ("REQUESTED", "DRAINING")
    ended(q)
    final = wait_for(
        lambda: api.query(q.id)["stop"]["state"] == "STOPPED" and api.query(q.id),
        what="STOPPED",
    )
    assert final["active"] is False
    assert recorder.ids("begin") == recorder.ids("end")
