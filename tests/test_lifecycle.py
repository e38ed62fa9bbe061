"""Managed queries on real Spark: pause, resume, restart and supervised restarts, through the one door.

The sink is non-idempotent (it appends every row it is handed): a batch that ran twice would show a
row twice, a batch skipped would leave a hole in the rate source's consecutive values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

import stopstreaming
from conftest import BatchRecorder, run_cli, start_noop, wait_for


@dataclass
class AppendingSink(BatchRecorder):
    """conftest's batch log, whose write appends each row's value: a row written twice shows twice."""

    seconds: float = 0.6
    values: list[int] = field(default_factory=list)

    def __call__(self, df: Any, batch_id: int) -> None:
        with self.lock:
            self.events.append(("begin", batch_id))
        time.sleep(self.seconds)
        rows = [r[0] for r in df.select("value").collect()]
        with self.lock:
            self.values.extend(rows)
            self.events.append(("end", batch_id))

    def check_exactly_once(self) -> None:
        with self.lock:
            values = sorted(self.values)
            begun = [b for k, b in self.events if k == "begin"]
        assert len(values) == len(set(values)), "a row was written twice"
        assert values == list(range(values[0], values[0] + len(values))), "a row was lost"
        assert len(begun) == len(set(begun)), f"a batch ran twice: {begun}"
        assert begun == list(range(begun[0], begun[0] + len(begun))), f"a batch was skipped: {begun}"


def _rate_query(name: str, sink: Any, checkpoint: str, rows_per_second: int = 20):
    def start(spark: Any) -> Any:
        return (
            spark.readStream.format("rate")
            .option("rowsPerSecond", rows_per_second)
            .load()
            .writeStream.foreachBatch(sink)
            .queryName(name)
            .option("checkpointLocation", checkpoint)
            .start()
        )

    return start


def _lifecycle_events(api: Any, name: str) -> list[dict[str, Any]]:
    r = api.get("/api/v1/events")
    assert r.status_code == 200, r.text
    return [e for e in r.json()["events"] if e["kind"] == "lifecycle" and e["queryName"] == name]


@pytest.mark.smoke
def test_pause_mid_batch_resume_and_restart_repeat_nothing_and_lose_nothing(spark, api, tmpdir_path):
    sink = AppendingSink()
    managed = stopstreaming.manage(spark, "lc-orders", _rate_query("lc-orders", sink, tmpdir_path))
    assert managed.state == "RUNNING"
    assert api.query("lc-orders")["lifecycle"] == "RUNNING"

    wait_for(lambda: len(sink.ids("end")) >= 1 and sink.in_flight(), what="a batch in flight")
    r = api.post("/api/v1/queries/lc-orders/pause", params={"wait": "60s"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "PAUSED" and r.json()["queryId"] is None, r.json()
    assert not sink.in_flight() and sink.ids("begin") == sink.ids("end"), "the batch in flight was cut"
    assert not [q for q in spark.streams.active if q.name == "lc-orders"]
    batches = len(sink.ids("begin"))
    time.sleep(1.5)
    assert len(sink.ids("begin")) == batches, "a paused query ran a batch"
    again = api.post("/api/v1/queries/lc-orders/pause")
    assert again.status_code == 200 and again.json()["state"] == "PAUSED"  # idempotent

    r = api.post("/api/v1/queries/lc-orders/resume", params={"wait": "60s"})
    assert r.status_code == 200 and r.json()["state"] == "RUNNING" and r.json()["runs"] == 2, r.text
    wait_for(lambda: len(sink.ids("end")) > batches, what="a batch of the resumed run")

    view = managed.restart(wait=60)
    assert view["state"] == "RUNNING" and view["runs"] == 3 and view["restarts"] == 2, view
    assert managed.query is not None and managed.query.isActive
    n = len(sink.ids("end"))
    wait_for(lambda: len(sink.ids("end")) > n, what="a batch of the restarted run")

    final = managed.stop(wait=60)
    assert final["state"] == "STOPPED" and final["failures"] == 0, final
    assert managed.await_termination(timeout=5) is True
    sink.check_exactly_once()

    moves = [(e["options"]["from"], e["options"]["state"]) for e in _lifecycle_events(api, "lc-orders")]
    for step in [
        ("RUNNING", "PAUSING"),
        ("PAUSING", "PAUSED"),
        ("PAUSED", "RESTARTING"),
        ("RUNNING", "RESTARTING"),
    ]:
        assert step in moves, moves
    assert moves[-1] == ("RUNNING", "STOPPED"), moves
    stops = [e for e in api.get("/api/v1/events").json()["events"] if e["kind"] == "stop-requested"]
    assert any(e["options"].get("purpose") == "pause" and e["queryName"] == "lc-orders" for e in stops)


def test_a_failing_query_is_restarted_with_back_off_then_failed(spark, api, tmpdir_path):
    starts: list[float] = []

    def failing_sink(df: Any, batch_id: int) -> None:
        raise RuntimeError("the sink is down")

    build = _rate_query("lc-flaky", failing_sink, tmpdir_path)

    def start(s: Any) -> Any:
        starts.append(time.monotonic())
        return build(s)

    managed = stopstreaming.manage(
        spark, "lc-flaky", start, initial_delay="400ms", factor=3, max_restarts=2, window="5m"
    )
    with pytest.raises(stopstreaming.ManagedQueryFailedError) as failed:
        managed.await_termination(timeout=120)
    assert "the sink is down" in str(failed.value)
    assert failed.value.view["state"] == "FAILED" and failed.value.view["failures"] == 3
    assert len(starts) == 3, f"restarted {len(starts) - 1} times, not twice"
    first, second = starts[1] - starts[0], starts[2] - starts[1]
    # Each gap is the run until its failure plus the back-off: at least 400 ms, then 1,200 ms.
    assert first >= 0.4 and second >= 1.2, (first, second)

    states = [e["options"]["state"] for e in _lifecycle_events(api, "lc-flaky")]
    assert states.count("BACKOFF") == 2 and states[-1] == "FAILED", states
    backoffs = [e for e in _lifecycle_events(api, "lc-flaky") if e["options"]["state"] == "BACKOFF"]
    assert all("nextAttemptAt" in e["options"] for e in backoffs), backoffs
    details = [e["options"]["detail"] for e in backoffs]
    assert details[0].startswith("failure 1; restart in 400ms"), details
    assert details[1].startswith("failure 2; restart in 1200ms"), f"the back-off did not grow: {details}"
    r = api.post("/api/v1/queries/lc-flaky/resume")
    assert r.status_code == 409 and r.json()["code"] == "lifecycle-conflict", r.text


def test_a_conditional_pause_pauses_and_a_resume_before_it_held_takes_it_back(spark, api):
    def start(s: Any) -> Any:
        return start_noop(s, "lc-when", trigger={"processingTime": "200 milliseconds"})

    managed = stopstreaming.manage(spark, "lc-when", start)
    r = api.post("/api/v1/queries/lc-when/pause", params={"when": "in:1h"})
    assert r.status_code == 202 and r.json()["state"] == "PAUSING", r.text
    assert api.query("lc-when")["stop"]["state"] == "PENDING"
    r = api.post("/api/v1/queries/lc-when/resume", params={"wait": "30s"})
    assert r.status_code == 200 and r.json()["state"] == "RUNNING" and r.json()["runs"] == 1, r.text
    assert api.query("lc-when")["stop"] is None

    r = api.post("/api/v1/queries/lc-when/pause", params={"when": "in:1s", "wait": "60s"})
    assert r.status_code == 200 and r.json()["state"] == "PAUSED", r.text
    assert managed.await_termination(timeout=1) is False, "a conditional pause ended the managed query"
    assert managed.resume(wait=60)["state"] == "RUNNING"
    assert managed.view()["runs"] == 2
    managed.stop(wait=30)


def test_a_query_stopped_on_purpose_is_not_restarted(spark, api):
    def start(s: Any) -> Any:
        return start_noop(s, "lc-purpose", trigger={"processingTime": "10 minutes"})

    managed = stopstreaming.manage(spark, "lc-purpose", start, initial_delay="100ms")
    r = api.post("/api/v1/queries/lc-purpose/stop", params={"wait": "30s"})
    assert r.status_code == 200, r.text
    assert managed.await_termination(timeout=30) is True
    wait_for(lambda: managed.view()["state"] == "STOPPED", timeout=30, what="STOPPED")
    assert managed.view()["runs"] == 1
    assert not [q for q in spark.streams.active if q.name == "lc-purpose"]
    # The name may be managed again once it is finished.
    again = stopstreaming.manage(spark, "lc-purpose", start)
    assert again.state == "RUNNING"
    with pytest.raises(stopstreaming.ConfigurationError, match="already managed"):
        stopstreaming.manage(spark, "lc-purpose", start)
    # A stop on purpose that waits for its condition: pause, resume and restart are refused (409) and
    # change nothing; once the stop is cancelled, the verbs work again.
    r = api.post("/api/v1/queries/lc-purpose/stop", params={"when": "in:1h"})
    assert r.status_code == 202, r.text
    for verb in ("pause", "resume", "restart"):
        r = api.post(f"/api/v1/queries/lc-purpose/{verb}")
        assert r.status_code == 409 and r.json()["code"] == "lifecycle-conflict", (verb, r.text)
        assert "being stopped for good" in r.json()["error"], r.text
    assert api.query("lc-purpose")["stop"]["state"] == "PENDING" and again.state == "RUNNING"
    assert api.request("DELETE", "/api/v1/queries/lc-purpose/stop").status_code == 200
    # A restart over a pending pause restarts (the pause becomes the restart).
    assert api.post("/api/v1/queries/lc-purpose/pause", params={"when": "in:1h"}).status_code == 202
    r = api.post("/api/v1/queries/lc-purpose/restart", params={"wait": "60s"})
    assert r.status_code == 200 and r.json()["state"] == "RUNNING" and r.json()["runs"] == 2, r.text
    assert api.get("/api/v1/conf/stopstreaming.paused.lc-purpose").status_code == 404
    assert again.stop(wait=30)["state"] == "STOPPED"


def test_lifecycle_requests_with_bad_input_change_nothing(spark, api):
    def start(s: Any) -> Any:
        return start_noop(s, "lc-input", trigger={"processingTime": "10 minutes"})

    managed = stopstreaming.manage(spark, "lc-input", start)
    for path, params, status, code in [
        ("/api/v1/queries/lc-nobody/pause", {}, 404, "not-managed"),
        ("/api/v1/queries/lc-input/pause", {"when": "soon"}, 400, "bad-request"),
        ("/api/v1/queries/lc-input/resume", {"when": "caught-up"}, 400, "bad-request"),
        ("/api/v1/queries/lc-input/restart", {"wait": "11m"}, 400, "bad-request"),
        ("/api/v1/managed/lc-nobody", None, 404, "not-managed"),
    ]:
        r = api.post(path, params=params) if params is not None else api.get(path)
        assert r.status_code == status and r.json()["code"] == code, (path, r.text)
    # The key of a persisted pause is the managed queries' own: no conf write changes it.
    r = api.request("PUT", "/api/v1/conf/stopstreaming.paused.lc-input", data=b"x")
    assert r.status_code == 409 and r.json()["code"] == "reserved-key", r.text
    unauthorized = api.post("/api/v1/queries/lc-input/pause", headers={"Authorization": "Bearer wrong"})
    assert unauthorized.status_code == 401
    assert managed.state == "RUNNING" and managed.view()["runs"] == 1
    with pytest.raises(stopstreaming.ConfigurationError):
        stopstreaming.manage(spark, "bad name!", start)
    with pytest.raises(stopstreaming.ConfigurationError):
        managed.pause(wait=-1)
    with pytest.raises(ZeroDivisionError):  # the start function's own error, as if called directly
        stopstreaming.manage(spark, "lc-broken", lambda s: 1 / 0)
    assert api.get("/api/v1/managed/lc-broken").status_code == 404
    managed.stop(wait=30)


def test_cli_restarts_three_queries_in_order(spark, api):
    names = ["lc-first", "lc-second", "lc-third"]
    handles = []
    for name in names:

        def start(s: Any, name: str = name) -> Any:
            rate = s.readStream.format("rate").option("rowsPerSecond", 1).load()
            return (
                rate.writeStream.format("noop").queryName(name).trigger(processingTime="10 minutes").start()
            )

        handles.append(stopstreaming.manage(spark, name, start))
    since = max([0, *(e["seq"] for e in api.get("/api/v1/events").json()["events"])])
    out = run_cli(api, "restart", *names, "--wait", "60s")
    assert out.returncode == 0, out.stderr
    for name in names:
        assert name in out.stdout
    moves = [
        (e["queryName"], e["options"]["state"])
        for e in api.get("/api/v1/events", params={"since": since}).json()["events"]
        if e["kind"] == "lifecycle"
    ]
    expected = []
    for name in names:
        expected += [(name, "RESTARTING"), (name, "RUNNING")]
    assert [m for m in moves if m[1] in ("RESTARTING", "RUNNING")] == expected, moves
    listing = run_cli(api, "managed")
    assert listing.returncode == 0 and all(n in listing.stdout for n in names), listing.stdout
    paused = run_cli(api, "pause", "lc-second", "--wait", "30s")
    assert paused.returncode == 0 and "PAUSED" in paused.stdout, paused.stderr
    missing = run_cli(api, "resume", "lc-nobody")
    assert missing.returncode == 3, missing.stderr
    for h in handles:
        h.stop(wait=30)
    assert all(h.state == "STOPPED" for h in handles)


def test_a_pause_survives_a_driver_restart(start_driver, tmp_path):
    options = {
        "rest_port": 0,
        "managed": str(tmp_path / "checkpoints"),
        "conf_file": str(tmp_path / "dynamic.json"),
        "batch_seconds": 0.2,
    }
    first = start_driver(options, "lc-kept")
    assert "MANAGED lc-kept RUNNING" in first.output()
    client = stopstreaming.StopStreamingClient(first.url)
    wait_for(lambda: "BATCH END lc-kept 1" in first.output(), timeout=60, what="two batches")
    assert client.pause("lc-kept", wait="60s")["state"] == "PAUSED"
    ended = [int(line.split()[-1]) for line in first.output().splitlines() if line.startswith("BATCH END")]
    first.proc.kill()  # a crash, or a redeploy: nothing of the driver is left but its files
    first.proc.wait(timeout=30)

    second = start_driver(options, "lc-kept")
    assert "MANAGED lc-kept PAUSED" in second.output(), second.output()[-2000:]
    client = stopstreaming.StopStreamingClient(second.url)
    view = client.managed_query("lc-kept")
    assert view["state"] == "PAUSED" and view["pausePersisted"] is True and view["runs"] == 0
    time.sleep(1.5)
    assert "BATCH BEGIN" not in second.output(), "a query paused before the restart ran"

    assert client.resume("lc-kept", wait="60s")["state"] == "RUNNING"
    wait_for(lambda: "BATCH END lc-kept" in second.output(), timeout=60, what="a batch after resume")
    resumed = [
        int(line.split()[-1]) for line in second.output().splitlines() if line.startswith("BATCH BEGIN")
    ]
    assert resumed[0] == max(ended) + 1, f"first run ended at {max(ended)}, second began at {resumed[0]}"
    assert "stopstreaming.paused.lc-kept" not in client.conf_list()["entries"]
    assert client.stop("lc-kept", wait="60s")["active"] is False
    second.proc.wait(timeout=60)
