"""The checkpoint inspector against checkpoints that real Spark wrote: a windowed count with a
watermark on the RocksDB state store, stopped gracefully and cut by ``query.stop()`` in mid-batch.

The inspector's answer is checked against what Spark then does: the first batch of a restart from
the same checkpoint is the one the inspector named (the re-run of a cut batch, or the next one).
Offsets and commit log formats and state folders change between Spark lines: every line runs this.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

import stopstreaming
from conftest import SCRIPT, BatchRecorder, ended, wait_for
from workloads import ROCKSDB


def _start(spark, recorder: BatchRecorder, checkpoint: str, name: str):
    """A tumbling 10 s window count with a 5 s watermark, on RocksDB, into ``recorder``."""
    from pyspark.sql import functions as F

    spark.conf.set("spark.sql.streaming.stateStore.providerClass", ROCKSDB)
    try:
        counts = (
            spark.readStream.format("rate").option("rowsPerSecond", 20).load()
            .withWatermark("timestamp", "5 seconds")
            .groupBy(F.window("timestamp", "10 seconds")).count()
        )  # fmt: skip
        return (
            counts.writeStream.outputMode("update").foreachBatch(recorder).queryName(name)
            .option("checkpointLocation", checkpoint).trigger(processingTime="500 milliseconds").start()
        )  # fmt: skip
    finally:
        spark.conf.unset("spark.sql.streaming.stateStore.providerClass")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOPSTREAMING_")}
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=60)


def _first_batch_of_a_restart(spark, checkpoint: str, name: str) -> int:
    recorder = BatchRecorder(seconds=0.0)
    q = _start(spark, recorder, checkpoint, name)
    try:
        wait_for(lambda: recorder.ids("begin"), timeout=120, what="a batch after the restart")
    finally:
        q.stop()
    return recorder.ids("begin")[0]


def test_a_graceful_stop_leaves_a_clean_checkpoint_and_the_restart_starts_where_it_says(spark, tmpdir_path):
    checkpoint = os.path.join(tmpdir_path, "ckpt")
    recorder = BatchRecorder(seconds=1.0)
    q = _start(spark, recorder, checkpoint, "ckpt-graceful")
    wait_for(
        lambda: len(recorder.ids("end")) >= 2 and recorder.in_flight(), timeout=120, what="a batch in flight"
    )
    body = stopstreaming.request_stop(q, wait="60s")
    assert body["stop"]["state"] == "STOPPED" and body["stop"]["mode"] == "graceful", body
    ended(q)
    last = recorder.ids("end")[-1]

    report = stopstreaming.inspect_checkpoint(checkpoint)
    assert report["queryId"] == str(q.id)
    assert report["clean"] is True and report["state"] == "clean", report
    # The plugin's record of the stop, written before the stop's waiter woke, agrees with the checkpoint.
    run = report["lastRun"]
    assert run["endedBy"] == run["howItEnded"] == "graceful" and run["source"] == "api", run
    assert run["runId"] == str(q.runId) and run["lastCommittedBatch"] == last, run
    assert report["lastPlannedBatch"] == report["lastCommittedBatch"] == last
    assert report["restartReruns"] is None and report["nextBatch"] == last + 1
    assert report["offsetsFormat"] == "v1" and report["commitsFormat"] in ("v1", "v2", "v3")
    assert [s["index"] for s in report["sources"]] == [0] and report["sources"][0]["offset"] is not None
    assert report["watermarkMs"] > 0, "rows older than the 5 s delay have been seen: the watermark moved"
    [op] = report["stateOperators"]
    assert op["partitions"] == 2 and op["provider"] == "RocksDBStateStoreProvider", op

    out = _cli("checkpoint", checkpoint)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"starts at batch {last + 1}" in out.stdout and str(q.id) in out.stdout
    said = f"last run:              graceful (by api at {run['at']}, last commit {last})"
    assert said in out.stdout, out.stdout
    as_json = json.loads(_cli("checkpoint", checkpoint, "--json").stdout)
    assert as_json["lastCommittedBatch"] == last

    assert _first_batch_of_a_restart(spark, checkpoint, "ckpt-graceful") == last + 1


def test_a_cut_batch_is_named_with_its_offsets_and_the_restart_runs_it_again(spark, tmpdir_path):
    checkpoint = os.path.join(tmpdir_path, "ckpt")
    recorder = BatchRecorder(seconds=3.0)
    q = _start(spark, recorder, checkpoint, "ckpt-cut")
    wait_for(
        lambda: len(recorder.ids("end")) >= 1 and recorder.in_flight(), timeout=120, what="a batch in flight"
    )
    cut = recorder.ids("begin")[-1]
    # An immediate stop through the plugin is Spark's own stop(): the batch in flight is not committed.
    stopstreaming.request_stop(q, mode="immediate", wait="60s")
    ended(q)

    report = stopstreaming.inspect_checkpoint(checkpoint)
    assert report["clean"] is False and report["state"] == "rerun", report
    assert report["lastRun"]["endedBy"] == "immediate" and report["lastRun"]["howItEnded"] == "cut", report
    assert report["lastPlannedBatch"] == cut and report["lastCommittedBatch"] == cut - 1
    rerun = report["restartReruns"]
    assert rerun["batch"] == cut and report["nextBatch"] == cut

    # The re-run covers what the cut batch had planned: from where the last committed batch ended to
    # its own end (the third line of each offsets entry is the rate source's offset).
    def source_line(batch: int):
        with open(os.path.join(checkpoint, "offsets", str(batch))) as f:
            return json.loads(f.read().split("\n")[2])

    assert [s["offset"] for s in rerun["fromOffsets"]] == [source_line(cut - 1)]
    assert [s["offset"] for s in rerun["toOffsets"]] == [source_line(cut)]
    assert rerun["fromOffsets"] != rerun["toOffsets"], "the cut batch had rows to read"

    out = _cli("checkpoint", checkpoint)
    assert out.returncode == 9, out.stdout + out.stderr
    assert f"re-runs batch {cut}" in out.stdout and "last run:              cut: " in out.stdout, out.stdout

    assert _first_batch_of_a_restart(spark, checkpoint, "ckpt-cut") == cut


@pytest.mark.tooling("our reader refuses folders that are not checkpoints before any Spark file is read")
def test_a_folder_that_is_not_a_checkpoint_is_refused_with_a_clear_error(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part-0.parquet").write_bytes(b"PAR1")
    with pytest.raises(stopstreaming.CheckpointError, match="not a streaming checkpoint"):
        stopstreaming.inspect_checkpoint(str(tmp_path / "data"))
    with pytest.raises(stopstreaming.CheckpointError, match="does not exist"):
        stopstreaming.inspect_checkpoint(str(tmp_path / "nowhere"))
    broken = tmp_path / "broken"
    (broken / "offsets").mkdir(parents=True)
    (broken / "offsets" / "0").write_text("not a log")
    with pytest.raises(stopstreaming.CheckpointError, match="version line of an entry of offsets/"):
        stopstreaming.inspect_checkpoint(str(broken))
    out = _cli("checkpoint", str(tmp_path / "data"))
    assert out.returncode == 1 and "not a streaming checkpoint" in out.stderr, out.stderr


ENTRY = 'v1\n{"batchWatermarkMs":0,"batchTimestampMs":1,"conf":{}}\n{"0":5}'
COMMIT = 'v1\n{"nextBatchWatermarkMs":10}'


def _folder(root, files: dict[str, str | None]) -> str:
    for name, text in files.items():
        path = root / name
        if text is None:
            path.mkdir(parents=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return str(root)


@pytest.mark.tooling("our reader's answers to folders Spark never wrote, made by hand; no Spark runs")
@pytest.mark.parametrize(
    "files, error",
    [
        ({"offsets/5": ENTRY, "commits/5": COMMIT}, "offsets/4 is missing"),  # Spark refuses this restart
        ({"offsets": "a file", "metadata": "{}"}, "a file where Spark keeps a folder"),
        ({"offsets/0": "v1\n[1, 2]\n-"}, "not a JSON object"),
        ({"offsets/0": ENTRY, "commits/0": "v1\n[1]"}, "not a JSON object"),
        ({"offsets/0": 'v1\n{"batchWatermarkMs": "soon"}\n-'}, "not a time in milliseconds"),
        ({"offsets/0": 'v1\n{"batchWatermarkMs": 1000000000000000000}\n-'}, "outside the years"),
        ({"offsets/0": "v1\n" + "[" * 100_000 + "]" * 100_000 + "\n-"}, "nests too deep"),
        ({"offsets/0": ENTRY, "state": "a file"}, "a file where Spark keeps a folder"),
    ],
    ids=["no-previous-entry", "offsets-is-a-file", "metadata-list", "commit-list", "watermark-text",
         "watermark-overflow", "deep-json", "state-is-a-file"],
)  # fmt: skip
def test_odd_folders_are_refused_with_a_clear_error(tmp_path, files, error):
    with pytest.raises(stopstreaming.CheckpointError, match=error):
        stopstreaming.inspect_checkpoint(_folder(tmp_path / "ckpt", files))


@pytest.mark.tooling("our reader's answers to folders Spark never wrote, made by hand; no Spark runs")
def test_what_spark_skips_is_skipped_and_a_commit_gap_is_said(tmp_path):
    # A folder named like a batch, a hidden checksum file and a temp file: Spark lists none of them.
    extra = {"offsets/7": None, "offsets/.5.crc": "x", "offsets/.abc.tmp": "x", "offsets/05": ENTRY}
    report = stopstreaming.inspect_checkpoint(
        _folder(tmp_path / "a", {"offsets/4": ENTRY, "offsets/5": ENTRY, "commits/5": COMMIT, **extra})
    )
    assert report["clean"] and report["lastPlannedBatch"] == 5 and report["watermarkMs"] == 10, report
    # Batches 3 and 4 planned, never committed: a restart re-runs 5 only, which the report says.
    report = stopstreaming.inspect_checkpoint(
        _folder(tmp_path / "b", {f"offsets/{i}": ENTRY for i in (3, 4, 5)} | {"commits/2": COMMIT})
    )
    assert report["restartReruns"]["batch"] == 5 and "3 to 4" in report["warnings"][0], report


def test_the_driver_reports_a_running_query_s_checkpoint_as_the_inspector_does_and_a_drain_is_recorded(
    spark, api, tmpdir_path
):
    # A file source catches up after its first batch and plans no other while no file comes: the
    # checkpoint stays still while the route and the inspector read it.
    source = os.path.join(tmpdir_path, "in")
    os.makedirs(source)
    for i in range(3):
        with open(os.path.join(source, f"part-{i}.txt"), "w") as f:
            f.write(f"row {i}\n")
    checkpoint = os.path.join(tmpdir_path, "ckpt")
    recorder = BatchRecorder(seconds=0.0)
    q = (
        spark.readStream.text(source).writeStream.foreachBatch(recorder).queryName("ckpt-route")
        .option("checkpointLocation", checkpoint).trigger(processingTime="1 second").start()
    )  # fmt: skip
    wait_for(lambda: recorder.ids("end") and q.lastProgress, timeout=60, what="the first batch committed")
    # The commit is written after the sink returned: wait until Spark wrote it, as the route would see it.
    wait_for(lambda: os.path.exists(os.path.join(checkpoint, "commits", "0")), what="commits/0")

    r = api.get(f"/api/v1/queries/{q.id}/checkpoint")
    assert r.status_code == 200, r.text
    served, read = r.json(), stopstreaming.inspect_checkpoint(checkpoint)
    assert served["running"] is True and served["path"].endswith("ckpt"), served
    keys = ("queryId", "clean", "state", "lastPlannedBatch", "lastCommittedBatch", "nextBatch", "watermarkMs")
    for key in keys:
        assert served[key] == read[key], (key, served, read)
    assert served["clean"] is True and served["lastCommittedBatch"] == 0 and served["lastRun"] is None, served
    offsets = [s["offset"] for s in served["sources"]]
    assert offsets == [s["offset"] for s in read["sources"]] == [{"logOffset": 0}], served

    body = stopstreaming.request_stop(q, when="caught-up", wait="60s")
    assert body["stop"]["state"] == "STOPPED", body
    run = stopstreaming.inspect_checkpoint(checkpoint)["lastRun"]
    assert run["endedBy"] == run["howItEnded"] == "drained" and run["when"] == "caught-up", run

    # An ended query's checkpoint is still served, read afresh once the report before the stop (kept
    # for 1 s) is stale.
    def served_record() -> dict[str, Any] | None:
        r = api.get("/api/v1/queries/ckpt-route/checkpoint")
        assert r.status_code == 200, r.text
        return r.json() if r.json()["lastRun"] else None

    ended = wait_for(served_record, timeout=10, what="the record in the served report")
    assert ended["running"] is False and ended["lastRun"]["howItEnded"] == "drained", ended


@pytest.mark.transport("the route's error table; where a query's checkpoint is, is found on every line above")
def test_the_checkpoint_route_answers_errors_with_their_codes(spark, api, tmpdir_path):
    r = api.get("/api/v1/queries/no-such-query/checkpoint")
    assert r.status_code == 404 and r.json()["code"] == "query-not-found", r.text
    checkpoint = os.path.join(tmpdir_path, "ckpt")
    q = (
        spark.readStream.format("rate").load().writeStream.format("noop").queryName("ckpt-gone")
        .option("checkpointLocation", checkpoint).trigger(processingTime="30 seconds").start()
    )  # fmt: skip
    wait_for(lambda: q.lastProgress, what="a first batch")
    r = api.post(f"/api/v1/queries/{q.id}/checkpoint")
    assert r.status_code == 405 and r.json()["code"] == "method-not-allowed", r.text
    shutil.rmtree(checkpoint)
    r = api.get(f"/api/v1/queries/{q.id}/checkpoint")
    assert r.status_code == 409 and r.json()["code"] == "checkpoint-unreadable", r.text
    assert "does not exist" in r.json()["error"]
    q.stop()


def _record(batch, ended_by="graceful", query="q-1") -> str:
    return json.dumps({"version": 1, "queryId": query, "runId": "r", "endedBy": ended_by, "source": "rest",
                       "mode": "graceful", "when": "now", "at": "2026-12-07T10:00:00Z",
                       "lastCommittedBatch": batch})  # fmt: skip


@pytest.mark.tooling("our reading of the plugin's record beside folders made by hand; no Spark runs")
def test_the_last_run_record_is_judged_against_the_checkpoint(tmp_path):
    base = {"metadata": '{"id": "q-1"}', "offsets/4": ENTRY, "offsets/5": ENTRY}

    def last_run(name: str, files: dict[str, str]) -> tuple[Any, list[str]]:
        report = stopstreaming.inspect_checkpoint(_folder(tmp_path / name, base | files))
        return report["lastRun"], report["warnings"]

    run, _ = last_run("paused", {"commits/5": COMMIT, "_stopstreaming/last-run.json": _record(5, "paused")})
    assert run["howItEnded"] == "paused" and run["runId"] == "r", run
    run, _ = last_run("older", {"commits/5": COMMIT, "_stopstreaming/last-run.json": _record(4)})
    assert run["howItEnded"] == "unknown", run  # a later run committed batch 5 and ended without the plugin
    run, _ = last_run("cut", {"commits/4": COMMIT, "_stopstreaming/last-run.json": _record(4)})
    assert run["howItEnded"] == "cut", run  # offsets/5 has no commit, whatever the record says
    assert last_run("none", {"commits/5": COMMIT}) == (None, [])
    other = {"commits/5": COMMIT, "_stopstreaming/last-run.json": _record(5, query="q-2")}
    run, warnings = last_run("other", other)
    assert run["howItEnded"] == "unknown" and "q-2" in warnings[0], warnings
    for i, bad in enumerate(["not json", "[1]", _record(5, "vanished"), _record("5"), _record(-1)]):
        run, warnings = last_run(f"bad-{i}", {"commits/5": COMMIT, "_stopstreaming/last-run.json": bad})
        assert run is None and "last-run.json is not a record of ours" in warnings[0], (bad, warnings)
    out = _cli("checkpoint", str(tmp_path / "older"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "last run:              unknown: a later run ended without" in out.stdout, out.stdout
