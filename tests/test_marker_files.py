"""Marker files on the local file system, through the same stop path as every other signal."""

from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from conftest import BatchRecorder, ended, start_noop, start_recorded, wait_for


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


@pytest.mark.smoke
def test_deleting_the_marker_stops_gracefully_and_restart_recreates_it(spark, api, stop_dir, tmpdir_path):
    recorder = BatchRecorder(seconds=1.0)
    q = start_recorded(spark, recorder, tmpdir_path, name="marker-graceful")
    wait_for(
        lambda: (
            os.path.exists(_marker(stop_dir, q)) and len(recorder.ids("end")) >= 1 and recorder.in_flight()
        )
    )
    os.remove(_marker(stop_dir, q))
    ended(q)
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
    ended(q)
    stop = wait_for(lambda: api.query(str(q.id))["stop"], what="stop recorded")
    assert stop["source"] == "file" and stop["mode"] == "immediate"
    wait_for(lambda: not os.path.exists(path), what="the handled stop file is removed")


@pytest.mark.smoke
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


def test_a_stop_file_for_another_drivers_query_is_left_alone(spark, api, stop_dir):
    # One stop directory, many drivers: a name this driver does not run belongs to another one.
    q = start_noop(spark, name="mine-too")
    wait_for(lambda: os.path.exists(_marker(stop_dir, q)))
    path = os.path.join(stop_dir, "another-drivers-query.stop")
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"mode": "graceful"}')
    # A stop file of ours written after it is handled, so the watcher has surely seen the other one.
    mine = os.path.join(stop_dir, "mine-too.stop")
    open(mine, "w").close()
    ended(q)
    wait_for(lambda: not os.path.exists(mine), what="our own stop file handled")
    assert os.path.exists(path) and not os.path.exists(path + ".error"), (
        "the other driver's file is untouched"
    )
    with open(path, encoding="utf-8") as f:
        assert f.read() == '{"mode": "graceful"}'
    os.remove(path)


def test_a_bad_stop_file_is_refused_whoever_it_names(spark, stop_dir):
    path = os.path.join(stop_dir, "nobody-runs-this.stop")
    with open(path, "w", encoding="utf-8") as f:
        f.write("not json")
    wait_for(lambda: os.path.exists(path + ".error"), what="an error file: no driver could act on it")
    os.remove(path + ".error")


def test_only_regular_files_are_read_and_links_are_not_followed(spark, api, stop_dir, tmpdir_path):
    q = start_noop(spark, name="regular-files")
    wait_for(lambda: os.path.exists(_marker(stop_dir, q)))
    # A FIFO and a directory named like stop files: reading either would block or fail the one watcher thread.
    fifo = os.path.join(stop_dir, "regular-files.stop")
    os.mkfifo(fifo)
    folder = os.path.join(stop_dir, "folder.stop")
    os.mkdir(folder)
    # An .error file planted as a link to a file of the victim's: it is replaced, never written through.
    outside = os.path.join(tmpdir_path, "precious.txt")
    with open(outside, "w", encoding="utf-8") as f:
        f.write("precious")
    bad = os.path.join(stop_dir, "links.stop")
    os.symlink(outside, bad + ".error")
    with open(bad, "w", encoding="utf-8") as f:
        f.write("{broken")
    wait_for(lambda: not os.path.exists(bad), what="the bad stop file handled past the FIFO")
    wait_for(lambda: not os.path.islink(bad + ".error"), what="the link replaced by a file")
    with open(outside, encoding="utf-8") as f:
        assert f.read() == "precious", "nothing was written through the link"
    assert q.isActive and api.query(str(q.id))["stop"] is None, (
        "the FIFO named like the query stopped nothing"
    )
    os.remove(fifo)
    os.rmdir(folder)
    os.remove(bad + ".error")
    # The watcher still serves: a real stop file for the query works.
    open(fifo, "w").close()
    ended(q)
    wait_for(lambda: not os.path.exists(fifo))


def test_a_marker_is_never_seen_half_written(spark, stop_dir):
    seen_empty: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for name in os.listdir(stop_dir):
                path = os.path.join(stop_dir, name)
                if name.startswith(".") or "." in name or not os.path.isfile(path):
                    continue
                try:
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                except FileNotFoundError:
                    continue
                try:
                    json.loads(text)
                except ValueError:
                    seen_empty.append(text)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    queries = [start_noop(spark, name=f"atomic-{i}") for i in range(5)]
    for q in queries:
        wait_for(lambda q=q: os.path.exists(_marker(stop_dir, q)))
    done.set()
    t.join(10)
    for q in queries:
        q.stop()
    assert not seen_empty, f"a marker was read before its content was in place: {seen_empty[:3]}"
    assert not [n for n in os.listdir(stop_dir) if n.endswith(".tmp")], "no temporary file is left"
