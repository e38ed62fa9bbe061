"""Dynamic configuration: HTTP changes seen by the next batches, compare-and-set, limits, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest

import stopstreaming
from conftest import TOKEN, run_cli, spark_env, wait_for


def _put(api, key, value, version=None):
    headers = {"If-Match": str(version)} if version is not None else {}
    return api.request("PUT", f"/api/v1/conf/{quote(key, safe='')}", data=value.encode(), headers=headers)


@pytest.mark.transport("our conf store behind our HTTP API and client; no Spark call")
@pytest.mark.smoke
def test_put_get_list_delete(api):
    r = _put(api, "dc.basic", "hello")
    assert r.status_code == 200, r.text
    entry = r.json()
    assert entry["key"] == "dc.basic" and entry["value"] == "hello" and entry["updatedAt"].endswith("Z")
    assert api.get("/api/v1/conf/dc.basic").json() == entry
    listing = api.get("/api/v1/conf").json()
    assert listing["version"] >= entry["version"] and listing["entries"]["dc.basic"]["value"] == "hello"
    assert api.request("DELETE", "/api/v1/conf/dc.basic").json()["value"] == "hello"
    assert api.get("/api/v1/conf/dc.basic").status_code == 404
    assert api.request("DELETE", "/api/v1/conf/dc.basic").status_code == 404


@pytest.mark.transport("our conf store behind our HTTP API and client; no Spark call")
def test_rejected_changes_leave_the_store_unchanged(api):
    _put(api, "dc.keep", "kept")
    before = api.get("/api/v1/conf").json()
    assert _put(api, "bad key", "x").status_code == 400
    assert _put(api, "k" * 257, "x").status_code == 400
    assert _put(api, "dc.keep", "x" * (64 * 1024 + 1)).status_code == 413
    assert api.request("PUT", "/api/v1/conf/dc.keep", data=b"\xff\xfe").status_code == 400
    assert _put(api, "dc.keep", "y", version="abc").status_code == 400
    assert _put(api, "dc.keep", "y", version=999999).status_code == 412
    assert api.request("POST", "/api/v1/conf/dc.keep").status_code == 405
    assert api.get("/api/v1/conf").json() == before
    assert _put(api, "dc.big", "x" * (64 * 1024)).status_code == 200, "exactly 64 KiB is allowed"


@pytest.mark.transport("our conf store behind our HTTP API and client; no Spark call")
def test_compare_and_set_with_two_concurrent_writers(api):
    for round_ in range(10):
        key = f"dc.cas{round_}"
        version = _put(api, key, "start").json()["version"]
        barrier = threading.Barrier(2)
        codes: list[int] = []

        def writer(value: str, key=key, version=version, barrier=barrier, codes=codes) -> None:
            barrier.wait()
            codes.append(_put(api, key, value, version=version).status_code)

        threads = [threading.Thread(target=writer, args=(v,)) for v in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200, 412], codes
        assert api.get(f"/api/v1/conf/{key}").json()["value"] in ("a", "b")


def test_every_batch_after_a_put_sees_the_new_value(spark, api):
    old, new = "o" * 5000, "n" * 5000
    _put(api, "dc.threshold", old)
    conf = stopstreaming.dynamic_conf(spark)
    seen: list[tuple[float, int, str]] = []

    def batch(df, batch_id):
        seen.append((time.monotonic(), batch_id, conf.get("dc.threshold")))

    q = (
        spark.readStream.format("rate")
        .load()
        .writeStream.foreachBatch(batch)
        .trigger(processingTime="100 milliseconds")
    ).start()
    wait_for(lambda: len(seen) >= 3, what="batches with the old value")
    r = _put(api, "dc.threshold", new)
    answered = time.monotonic()
    assert r.status_code == 200
    wait_for(lambda: sum(1 for t, _, _ in seen if t > answered) >= 5, what="batches after the change")
    q.stop()
    assert all(v in (old, new) for _, _, v in seen), "a batch saw a half-written value"
    late = [v for t, _, v in seen if t > answered]
    assert late and all(v == new for v in late), "a batch that started after the answer saw the old value"


def test_python_reader_matches_http(spark, api):
    _put(api, "dc.reader", "42")
    conf = stopstreaming.dynamic_conf(spark)
    listing = api.get("/api/v1/conf").json()
    assert conf.get("dc.reader") == "42" and conf.get("dc.absent", "dflt") == "dflt"
    assert conf.version == listing["version"]
    assert conf.as_dict() == {k: v["value"] for k, v in listing["entries"].items()}


@pytest.mark.transport("our conf store behind our HTTP API and client; no Spark call")
def test_client_and_cli(api):
    client = stopstreaming.StopStreamingClient(api.url, TOKEN)
    entry = client.conf_set("dc.cli", "1", if_version=0)
    with pytest.raises(stopstreaming.ConflictError):
        client.conf_set("dc.cli", "2", if_version=0)
    r = run_cli(api, "conf", "set", "dc.cli", "2", "--if-version", str(entry["version"]))
    assert r.returncode == 0 and r.stdout.strip() == "2", r.stderr
    r = run_cli(api, "conf", "set", "dc.cli", "3", "--if-version", str(entry["version"]))
    assert r.returncode == 7 and "conflict" in r.stderr
    assert run_cli(api, "conf", "get", "dc.cli").stdout.strip() == "2"
    assert "dc.cli" in run_cli(api, "conf", "list").stdout
    assert run_cli(api, "conf", "unset", "dc.cli").returncode == 0
    assert run_cli(api, "conf", "get", "dc.cli").returncode == 3


def test_a_new_spark_context_in_the_same_process_reads_its_own_driver():
    # A notebook's restart: the mirror of the first driver must not answer for the second.
    app = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps", "conf_restart_app.py")
    r = subprocess.run([sys.executable, app], capture_output=True, text=True, env=spark_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {
        "first": "first-driver",
        "second_before_put": None,
        "second": "second-driver",
        "second_again": "second-driver-again",
    }
