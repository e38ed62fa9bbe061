"""Conditional stops on real Spark: drain then stop, after batch N, at a time; cancel; pending."""

from __future__ import annotations

import datetime
import os
import threading
import time
from typing import Any

import pytest

import stopstreaming
from conftest import BatchRecorder, ended, run_cli, start_noop, start_recorded, wait_for
from stopstreaming import ConflictError


class RowSink:
    """A foreachBatch sink that records (batch id, rows) and takes a moment per batch."""

    def __init__(self, seconds: float = 0.3) -> None:
        self.seconds = seconds
        self.batches: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def __call__(self, df: Any, batch_id: int) -> None:
        rows = df.count()
        time.sleep(self.seconds)
        with self.lock:
            self.batches.append((batch_id, rows))


def _file_query(spark: Any, src: str, ckpt: str, sink: RowSink, name: str) -> Any:
    return (
        spark.readStream.format("text")
        .option("maxFilesPerTrigger", 1)
        .load(src)
        .writeStream.foreachBatch(sink)
        .option("checkpointLocation", ckpt)
        .queryName(name)
        .start()
    )


@pytest.mark.smoke
def test_caught_up_drains_every_file_then_stops_and_a_restart_repeats_nothing(spark, api, tmp_path):
    src, ckpt = str(tmp_path / "in"), str(tmp_path / "ckpt")
    os.makedirs(src)
    files, rows_per_file = 6, 25
    for i in range(files):
        with open(os.path.join(src, f"part-{i:02d}.txt"), "w") as f:
            f.write("".join(f"file {i} row {r}\n" for r in range(rows_per_file)))
    sink = RowSink()
    q = _file_query(spark, src, ckpt, sink, "drain-files")
    # Sent before the first batch: the Python call registers the query and returns at once.
    answer = stopstreaming.request_stop(q, when="caught-up")
    assert answer["stop"]["state"] == "PENDING" and answer["stop"]["when"] == "caught-up"
    assert not sink.batches, "the request came before the first batch"
    ended(q, 180, what="the draining query")
    ids = [b for b, _ in sink.batches]
    assert ids == list(range(files)), f"one batch per file, in order, none twice: {sink.batches}"
    assert sum(r for _, r in sink.batches) == files * rows_per_file
    # The stop engine records the end a moment after the stream thread ended
    # (await_external_termination waits for that record; this test waits for the thread).
    wait_for(lambda: api.query(str(q.id))["stop"]["state"] == "STOPPED", timeout=30, what="the stop's record")
    stop = api.query(str(q.id))["stop"]
    assert "caught-up" in (stop["detail"] or ""), stop

    again = RowSink()
    q2 = _file_query(spark, src, ckpt, again, "drain-files")
    q2.processAllAvailable()
    q2.stop()
    assert again.batches == [], f"a restart after the drain ran batches again: {again.batches}"


def test_request_stop_with_wait_returns_once_the_drain_ended_or_the_wait_ran_out(spark, tmp_path):
    rec = BatchRecorder(seconds=0.3)
    q = start_recorded(spark, rec, str(tmp_path / "ckpt"), name="waited-drain")
    answer = stopstreaming.request_stop(q, when="batch:2", wait="90s")
    assert answer["stop"]["state"] == "STOPPED", answer
    assert not q.isActive and rec.ids("end")[-1] == 2, rec.events

    other = start_noop(spark, "waited-out")
    t0 = time.monotonic()
    answer = stopstreaming.request_stop(other, when="in:10m", wait="1s")
    waited = time.monotonic() - t0
    assert answer["stop"]["state"] == "PENDING" and other.isActive, answer
    assert waited >= 0.9, f"the call returned before its wait ran out ({waited:.1f}s)"
    with pytest.raises(stopstreaming.ConfigurationError, match="wait"):
        stopstreaming.request_stop(other, wait="soon")
    with pytest.raises(stopstreaming.ConfigurationError, match="at most 10m"):
        stopstreaming.request_stop(other, wait="11m")
    assert stopstreaming.cancel_stop(other)["stop"] is None, "a refused call changed nothing but the cancel"
    other.stop()


@pytest.mark.smoke
def test_batch_n_ends_right_after_batch_n(spark, api, tmp_path):
    rec = BatchRecorder(seconds=0.5)
    q = start_recorded(spark, rec, str(tmp_path / "ckpt"), name="until-batch-3")
    r = api.post(f"/api/v1/queries/{q.id}/stop", params={"when": "batch:3"})
    assert r.status_code == 202, r.text
    assert r.json()["stop"]["state"] == "PENDING" and r.json()["stop"]["when"] == "batch:3"
    ended(q, 120, what="the query stopping after batch 3")
    assert rec.ids("end")[-1] == 3, rec.events
    assert max(rec.ids("begin")) == 3, f"no batch after 3 may start: {rec.events}"


def test_a_scheduled_stop_fires_at_its_time_not_before(spark, api):
    q = start_noop(spark, "scheduled", trigger={"processingTime": "200 milliseconds"})
    wait_for(lambda: q.lastProgress is not None, timeout=60)
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
    r = api.post(f"/api/v1/queries/{q.id}/stop", params={"when": at.isoformat()})
    assert r.status_code == 202, r.text
    assert q.isActive
    ended(q, 60, what="the query with a stop scheduled in 3 s")
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now >= at - datetime.timedelta(milliseconds=50), f"the query ended at {now}, before {at}"
    assert api.query(str(q.id))["stop"]["state"] == "STOPPED"


def test_cancel_leaves_the_query_running_and_a_second_cancel_is_a_conflict(spark, api):
    q = start_noop(spark, "cancelled")
    wait_for(lambda: q.lastProgress is not None, timeout=60)
    out = run_cli(api, "stop", "cancelled", "--when", "in:2s")
    assert out.returncode == 0, out.stderr
    assert "PENDING (when" in out.stdout
    out = run_cli(api, "cancel", "cancelled")
    assert out.returncode == 0, out.stderr
    assert api.query("cancelled")["stop"] is None
    time.sleep(3)
    assert q.isActive, "a cancelled scheduled stop must not fire"
    r = api.request("DELETE", "/api/v1/queries/cancelled/stop")
    assert r.status_code == 409 and "no pending stop" in r.json()["error"]
    assert run_cli(api, "cancel", "cancelled").returncode == 7
    with pytest.raises(ConflictError):
        stopstreaming.cancel_stop(q)
    events = [e for e in api.get("/api/v1/events").json()["events"] if e.get("queryName") == "cancelled"]
    assert [e["kind"] for e in events][-2:] == ["stop-requested", "stop-cancelled"]


def test_a_source_that_never_runs_dry_stays_pending_until_a_later_request_replaces_it(spark, api):
    # "rate-micro-batch" adds rows at every trigger, however late it runs (the plain "rate" source
    # counts whole seconds, so a trigger that falls behind can find nothing new and be caught up).
    q = (
        spark.readStream.format("rate-micro-batch").option("rowsPerBatch", 5).load()
        .writeStream.format("noop").queryName("never-dry").trigger(processingTime="300 milliseconds").start()
    )  # fmt: skip
    wait_for(lambda: q.lastProgress is not None, timeout=60)
    assert api.post("/api/v1/queries/never-dry/stop", params={"when": "caught-up"}).status_code == 202
    # Five more batches, each with new rows, and the stop still waits.
    asked_at = q.lastProgress["batchId"]
    wait_for(lambda: q.lastProgress["batchId"] >= asked_at + 5, timeout=60, what="five more batches")
    stop = api.query("never-dry")["stop"]
    assert q.isActive and stop["state"] == "PENDING" and stop["when"] == "caught-up"
    listed = [x for x in api.get("/api/v1/queries").json()["queries"] if x["name"] == "never-dry"]
    assert listed[0]["stop"]["state"] == "PENDING"
    # A later conditional request replaces it; a plain stop wins over any pending one.
    api.post("/api/v1/queries/never-dry/stop", params={"when": "batch:100000"})
    assert api.query("never-dry")["stop"]["when"] == "batch:100000"
    r = api.post("/api/v1/queries/never-dry/stop", params={"wait": "60s"})
    assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED"
    assert not q.isActive


@pytest.mark.transport("our parser of stop conditions refuses them before Spark is asked")
def test_bad_conditions_are_refused_and_change_nothing(spark, api):
    q = start_noop(spark, "bad-when")
    wait_for(lambda: q.lastProgress is not None, timeout=60)
    for when, words in [
        ("batch:x", "batch:<N>"),
        ("in:soon", "duration"),
        ("yesterday-ish", "ISO-8601"),
    ]:
        r = api.post("/api/v1/queries/bad-when/stop", params={"when": when})
        assert r.status_code == 400 and words in r.json()["error"], r.text
    r = api.post("/api/v1/queries/bad-when/stop", params={"when": "caught-up", "mode": "immediate"})
    assert r.status_code == 400 and "graceful" in r.json()["error"]
    assert q.isActive and api.query("bad-when")["stop"] is None


def test_a_stop_file_takes_the_same_conditions(spark, api, stop_dir):
    q = start_noop(spark, "file-when")
    wait_for(lambda: q.lastProgress is not None, timeout=60)
    with open(os.path.join(stop_dir, "file-when.stop"), "w") as f:
        f.write('{"when":"in:1h"}')
    wait_for(lambda: (api.query("file-when")["stop"] or {}).get("state") == "PENDING", timeout=30)
    assert api.query("file-when")["stop"]["source"] == "file"
    assert q.isActive


def _files(src: str, files: int, rows: int) -> None:
    os.makedirs(src)
    for i in range(files):
        with open(os.path.join(src, f"part-{i:02d}.txt"), "w") as f:
            f.write("".join(f"file {i} row {r}\n" for r in range(rows)))


def test_a_drain_with_wait_is_answered_200_stopped_once_drained(spark, api, tmp_path):
    src = str(tmp_path / "in")
    _files(src, 5, 10)
    sink = RowSink()
    q = _file_query(spark, src, str(tmp_path / "ckpt"), sink, "drain-wait-http")
    r = api.post("/api/v1/queries/drain-wait-http/stop", params={"when": "caught-up", "wait": "180s"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["active"] is False and body["stop"]["state"] == "STOPPED", body
    assert "caught-up" in (body["stop"]["detail"] or "")
    # The answer came after the drain, not at once: every file was a batch of its own before it.
    assert [b for b, _ in sink.batches] == list(range(5)), sink.batches
    ended(q, 30)


def test_the_cli_waits_for_a_drain_and_exits_0(spark, api, tmp_path):
    src = str(tmp_path / "in")
    _files(src, 4, 10)
    sink = RowSink()
    q = _file_query(spark, src, str(tmp_path / "ckpt"), sink, "drain-wait-cli")
    out = run_cli(api, "stop", "drain-wait-cli", "--when", "caught-up", "--wait", "3m")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "STOPPED" in out.stdout
    assert [b for b, _ in sink.batches] == list(range(4)), sink.batches
    ended(q, 30)


def test_a_wait_on_a_pending_stop_runs_out_with_202_or_ends_with_a_cancel(spark, api):
    q = (
        spark.readStream.format("rate-micro-batch").option("rowsPerBatch", 5).load()
        .writeStream.format("noop").queryName("never-dry-wait")
        .trigger(processingTime="300 milliseconds").start()
    )  # fmt: skip
    wait_for(lambda: q.lastProgress is not None, timeout=60)
    t0 = time.monotonic()
    r = api.post("/api/v1/queries/never-dry-wait/stop", params={"when": "caught-up", "wait": "2s"})
    took = time.monotonic() - t0
    assert r.status_code == 202, r.text
    assert r.json()["stop"]["state"] == "PENDING" and r.json()["active"] is True
    assert took >= 1.9, f"the call returned before its 2 s wait ran out ({took:.1f}s)"
    out = run_cli(api, "stop", "never-dry-wait", "--when", "caught-up", "--wait", "1s")
    assert out.returncode == 6, out.stdout + out.stderr

    # A cancel answers a waiter at once: the query runs on, without a stop.
    answers: list[Any] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            api.post("/api/v1/queries/never-dry-wait/stop", params={"when": "caught-up", "wait": "120s"})
        )
    )
    waiter.start()
    wait_for(lambda: (api.query("never-dry-wait")["stop"] or {}).get("state") == "PENDING", timeout=30)
    time.sleep(0.5)
    assert not answers, "the waiter was answered before the cancel"
    assert api.request("DELETE", "/api/v1/queries/never-dry-wait/stop").status_code == 200
    waiter.join(timeout=30)
    assert answers, "the cancel did not answer the waiter, whose wait runs for 120 s"
    assert answers[0].status_code == 202 and answers[0].json()["stop"] is None, answers[0].text
    assert q.isActive

    # A plain stop that replaces a pending one ends the waiter with the query.
    waiter = threading.Thread(
        target=lambda: answers.append(
            api.post("/api/v1/queries/never-dry-wait/stop", params={"when": "caught-up", "wait": "120s"})
        )
    )
    waiter.start()
    wait_for(lambda: (api.query("never-dry-wait")["stop"] or {}).get("state") == "PENDING", timeout=30)
    assert api.post("/api/v1/queries/never-dry-wait/stop").status_code in (200, 202)
    waiter.join(timeout=60)
    assert len(answers) == 2 and answers[1].status_code == 200, answers[1].text
    assert answers[1].json()["stop"]["state"] == "STOPPED"
