"""Marker files on the local file system: the seed's second backend, through the same stop path."""

from __future__ import annotations

import json
import os
import socket

from conftest import BatchRecorder, start_noop, start_recorded, wait_for


def _marker(stop_dir: str, q) -> str:
    return os.path.join(stop_dir, str(q.id))


def _read_marker(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return json.loads(text) if text else {}


def test_marker_tells_what_runs_and_where_to_ask(spark, api, stop_dir):
    q = start_noop(spark, name="marked")
    body = wait_for(lambda: os.path.exists(_marker(stop_dir, q)) and _read_marker(_marker(stop_dir, q)))
    assert body["id"] == str(q.id) and body["runId"] == str(q.runId) and body["name"] == "marked"
    assert body["startedAt"].endswith("Z") and body["driverHost"] == socket.gethostname()
    assert body["controlUrl"] == api.url
    assert str(q.id) in os.listdir(stop_dir), "ls of the stop directory lists running queries"
    q.stop()
    wait_for(lambda: not os.path.exists(_marker(stop_dir, q)), what="marker removed once the query ended")


def test_deleting_the_marker_stops_gracefully_and_restart_recreates_it(spark, api, stop_dir, tmpdir_path):
    recorder = BatchRecorder(seconds=1.0)
    q = start_recorded(spark, recorder, tmpdir_path, name="marker-graceful")
    wait_for(
        lambda: (
            os.path.exists(_marker(stop_dir, q)) and len(recorder.ids("end")) >= 1 and recorder.in_flight()
        )
    )
    os.remove(_marker(stop_dir, q))
    q.awaitTermination()
    stop = wait_for(lambda: api.query(str(q.id))["stop"], what="stop recorded")
    assert stop["source"] == "file" and stop["mode"] == "graceful"
    wait_for(lambda: api.query(str(q.id))["stop"]["state"] == "STOPPED")
    first = recorder.ids("begin")
    assert first == recorder.ids("end"), "the batch in flight finished"

    q2 = start_recorded(spark, recorder, tmpdir_path, name="marker-graceful")
    assert q2.id == q.id
    wait_for(lambda: os.path.exists(_marker(stop_dir, q2)), what="marker re-created on restart")
    wait_for(lambda: len(recorder.ids("begin")) > len(first))
    q2.stop()
    assert recorder.ids("begin")[len(first)] == max(first) + 1, "no batch ran twice"


def test_stop_file_by_name_with_options(spark, api, stop_dir):
    q = start_noop(spark, name="stop-me-by-name")
    wait_for(lambda: os.path.exists(_marker(stop_dir, q)))
    path = os.path.join(stop_dir, "stop-me-by-name.stop")
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"mode": "immediate", "timeout": "30s"}')
    q.awaitTermination()
    stop = wait_for(lambda: api.query(str(q.id))["stop"], what="stop recorded")
    assert stop["source"] == "file" and stop["mode"] == "immediate"
    wait_for(lambda: not os.path.exists(path), what="the handled stop file is removed")


def test_stop_file_with_bad_content_stops_nothing_and_says_why(spark, api, stop_dir):
    q = start_noop(spark, name="keep-running")
    wait_for(lambda: os.path.exists(_marker(stop_dir, q)))
    path = os.path.join(stop_dir, "keep-running.stop")
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"mode": "violent"}')
    wait_for(lambda: os.path.exists(path + ".error"), what="an error file next to the stop file")
    assert not os.path.exists(path), "the stop file is removed before the error file is written"
    with open(path + ".error", encoding="utf-8") as f:
        assert "violent" in f.read()
    os.remove(path + ".error")
    assert q.isActive and api.query(str(q.id))["stop"] is None
    q.stop()


def test_stop_file_for_unknown_query_is_rejected(spark, stop_dir):
    path = os.path.join(stop_dir, "nobody-runs-this.stop")
    open(path, "w").close()
    wait_for(lambda: os.path.exists(path + ".error"), what="an error file")
    os.remove(path + ".error")
