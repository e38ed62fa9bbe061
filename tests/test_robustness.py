"""Robustness: a fuzzed HTTP API, slow and broken clients, and a 20-cycle restart loop.

Counts are printed (pytest -s shows them) and kept in the closing note: requests tried, cycles
run, duplicates found.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
from urllib.parse import quote, urlparse

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TOKEN, ended, free_port, read_batch_log, spark_env, start_noop, wait_for

_segment = st.one_of(
    st.sampled_from(
        ["api", "v1", "queries", "conf", "health", "stop", "..", ".", "", "%2F", "%2e%2e", "%00"]
    ),
    st.text(min_size=1, max_size=20).map(lambda s: quote(s, safe="")),
)
# Origin-form targets (RFC 9112): the first segment is not empty. A target such as "//x" or one
# that is not URI syntax is refused by the JDK server itself, before any handler, with a plain
# 4xx; test_jdk_level_refusals_are_4xx_and_stop_nothing covers those.
_path = (
    st.lists(_segment, min_size=0, max_size=6)
    .map(lambda segs: "/" + "/".join(segs))
    .filter(lambda p: not p.startswith("//"))
)
_query = st.one_of(
    st.just(""),
    st.dictionaries(
        st.sampled_from(["mode", "timeout", "wait", "x", "mode%00"]),
        st.text(max_size=12).map(lambda s: quote(s, safe="")),
        max_size=3,
    ).map(lambda d: "?" + "&".join(f"{k}={v}" for k, v in d.items())),
)
_body = st.one_of(
    st.just(b""),
    st.binary(max_size=512),
    st.integers(min_value=64 * 1024 - 2, max_value=64 * 1024 + 2).map(lambda n: b"x" * n),
)
_headers = st.dictionaries(
    st.sampled_from(["If-Match", "Content-Type", "X-Junk", "Accept"]),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=20),
    max_size=3,
)


def _raw_request(url: str, method: str, target: str, headers: dict, body: bytes) -> tuple[int, str, bytes]:
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        conn.close()


@pytest.fixture
def fuzz_victim(spark, api):
    q = start_noop(spark, name="victim-fuzz")
    wait_for(lambda: q.lastProgress is not None)
    assert api.request("PUT", "/api/v1/conf/fuzz.sentinel", data=b"unchanged").status_code == 200
    return q


@pytest.mark.transport(
    "our HTTP server under hostile requests; the requests are refused before Spark is asked"
)
def test_fuzzed_requests_never_5xx_and_change_nothing(api, fuzz_victim):
    tried = 0

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO"]),
        path=_path,
        query=_query,
        headers=_headers,
        body=_body,
        token=st.sampled_from([None, TOKEN, "wrong", ""]),
    )
    def one_request(method, path, query, headers, body, token):
        nonlocal tried
        h = dict(headers)
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        status, ctype, payload = _raw_request(api.url, method, path + query, h, body)
        tried += 1
        assert status < 500, (method, path + query, status, payload[:200])
        page = status == 200 and path in ("/", "/ui/app.js", "/ui/app.css")
        if method != "HEAD" and not page:
            assert ctype.startswith("application/json"), (method, path + query, status, ctype, payload[:200])
            json.loads(payload)
        elif page:
            assert ctype.startswith(("text/html", "text/javascript", "text/css")), (path, ctype)

    one_request()
    assert requests.get(api.url + "/api/v1/health", timeout=5).status_code == 200
    assert fuzz_victim.isActive and api.query(str(fuzz_victim.id))["stop"] is None, (
        "a fuzzed request stopped it"
    )
    assert api.get("/api/v1/conf/fuzz.sentinel").json()["value"] == "unchanged"
    print(f"\nrobustness: {tried} fuzzed requests, no 5xx, nothing stopped or changed")


@pytest.mark.transport(
    "our HTTP server under hostile requests; the requests are refused before Spark is asked"
)
def test_jdk_level_refusals_are_4xx_and_stop_nothing(api, fuzz_victim):
    for target in ("//api", f"/stop/{fuzz_victim.id}%zz", "/a|b"):
        status, _, _ = _raw_request(api.url, "POST", target, {"Authorization": f"Bearer {TOKEN}"}, b"")
        assert 400 <= status < 500, (target, status)
    assert fuzz_victim.isActive


def _answers_health(api) -> None:
    # The bad clients hold their connections to the end: a server they blocked would time out here.
    assert requests.get(api.url + "/api/v1/health", timeout=10).status_code == 200


@pytest.mark.transport(
    "our HTTP server under hostile requests; the requests are refused before Spark is asked"
)
def test_slow_and_broken_clients_do_not_block_others(api):
    u = urlparse(api.url)
    stop = threading.Event()

    def byte_by_byte() -> None:
        with socket.create_connection((u.hostname, u.port), timeout=30) as s:
            for b in b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                if stop.is_set():
                    return
                s.send(bytes([b]))
                time.sleep(0.02)

    slow = threading.Thread(target=byte_by_byte, daemon=True)
    slow.start()
    idle = [socket.create_connection((u.hostname, u.port), timeout=30) for _ in range(200)]
    try:
        time.sleep(0.5)
        _answers_health(api)
        # A client that announces a body and hangs up half-way.
        with socket.create_connection((u.hostname, u.port), timeout=10) as s:
            s.sendall(
                f"PUT /api/v1/conf/half HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Content-Length: 1000\r\n\r\n0123456789".encode()
            )
        _answers_health(api)
        assert api.get("/api/v1/conf/half").status_code == 404, "a cut-off body must not be stored"
    finally:
        stop.set()
        for s in idle:
            s.close()
    _answers_health(api)


APP = os.path.join(os.path.dirname(__file__), "apps", "batch_logger_app.py")


def test_restart_loop_processes_every_batch_exactly_once(spark, api, stop_dir, tmpdir_path):
    """20 cycles of restart from one checkpoint and a graceful stop at a random moment, by HTTP,
    by marker file, or by SIGTERM to a spark-submit driver; every batch id ends exactly once.

    A matrix line runs 9 cycles (three of each kind): what a line can change is how each kind of stop
    meets Spark, which three of each show; the other eleven add random moments, not Spark code."""
    import stopstreaming

    checkpoint, log = os.path.join(tmpdir_path, "ckpt"), os.path.join(tmpdir_path, "batches.log")
    rng = random.Random(20)

    def sink(df, batch_id):
        with open(log, "a") as f:
            f.write(f"BEGIN {batch_id}\n")
        time.sleep(0.4)
        df.count()
        with open(log, "a") as f:
            f.write(f"END {batch_id}\n")

    kinds = []
    for cycle in range(9 if os.environ.get("STOPSTREAMING_MATRIX_LINE") else 20):
        kind = ("http", "file", "sigterm")[cycle % 3]
        kinds.append(kind)
        before = len(read_batch_log(log))
        if kind == "sigterm":
            port = free_port()
            cmd = [
                os.path.join(spark_env()["SPARK_HOME"], "bin", "spark-submit"),
                "--master", "local[2]", "--conf", "spark.ui.enabled=false",
                "--jars", stopstreaming.jar_path(), "--conf", f"spark.plugins={stopstreaming.PLUGIN_CLASS}",
                "--conf", f"spark.stopstreaming.rest.port={port}",
                APP, checkpoint, log, "0.4",
            ]  # fmt: skip
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=spark_env()
            )
            try:
                wait_for(
                    lambda b=before: len(read_batch_log(log)) > b, timeout=180, what="a batch after restart"
                )
                time.sleep(rng.uniform(0, 1.0))
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=120)  # a JVM ended by SIGTERM exits with 143; what counts is the log
            finally:
                if proc.poll() is None:
                    proc.kill()
            continue
        q = (
            spark.readStream.format("rate").option("rowsPerSecond", 5).load()
            .writeStream.queryName("restart-loop").foreachBatch(sink)
            .option("checkpointLocation", checkpoint).trigger(processingTime="200 milliseconds").start()
        )  # fmt: skip
        wait_for(lambda b=before: len(read_batch_log(log)) > b, timeout=60, what="a batch after restart")
        time.sleep(rng.uniform(0, 1.0))
        if kind == "http":
            assert api.post(f"/api/v1/queries/{q.id}/stop").status_code in (200, 202)
        else:
            marker = os.path.join(stop_dir, str(q.id))
            wait_for(lambda m=marker: os.path.exists(m), what="marker")
            os.remove(marker)
        ended(q)

    events = read_batch_log(log)
    ends = [b for k, b in events if k == "END"]
    begins = [b for k, b in events if k == "BEGIN"]
    duplicates = len(ends) - len(set(ends))
    counts = ", ".join(f"{kinds.count(k)} {k}" for k in ("http", "file", "sigterm"))
    print(
        f"\nrobustness: {len(kinds)} restart cycles ({counts}), "
        f"{len(set(ends))} batches, {duplicates} duplicates"
    )
    assert duplicates == 0, f"batch ids processed twice: {sorted(b for b in set(ends) if ends.count(b) > 1)}"
    assert sorted(set(ends)) == list(range(min(ends), max(ends) + 1)), "a batch id was skipped"
    assert sorted(begins) == sorted(ends), "a batch began without ending"
