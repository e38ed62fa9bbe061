"""Safe by default: web pages, DNS rebinding, slow clients, long waits and secrets on command lines.

Raw sockets where a client library would hide the misbehaviour.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
import requests

from conftest import TOKEN, start_noop, wait_for


def raw(url: str, request: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send raw bytes to the server of ``url``; return the answer's status and whole body."""
    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def http(method: str, path: str, host: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close", "Content-Length: 0"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- without a token (the default): web pages and DNS rebinding ---------------------------------


@pytest.mark.transport("our HTTP server's origin, host and connection guards, before Spark is asked")
def test_without_a_token_a_web_page_and_a_rebound_name_stop_nothing(start_driver):
    d = start_driver({"rest_port": 0}, "orders")
    u = urlparse(d.url)
    own = f"127.0.0.1:{u.port}"
    stop = "/api/v1/queries/orders/stop"
    # The fetch(..., {mode: 'no-cors'}) of any page: a simple request with a foreign Origin.
    status, body = raw(d.url, http("POST", stop, own, {"Origin": "https://evil.example"}))
    assert status == 403 and b"evil.example" in body and b'"error"' in body
    status, _ = raw(d.url, http("POST", stop, own, {"Origin": "null"}))
    assert status == 403
    # DNS rebinding: a name of the attacker's that now points at 127.0.0.1.
    for host in (f"evil.example:{u.port}", "evil.example", f"rebind.localhost.evil:{u.port}"):
        status, body = raw(d.url, http("POST", stop, host))
        assert status == 403 and b"Host" in body, host
        status, _ = raw(d.url, http("POST", "/stop/00000000-0000-0000-0000-000000000000", host))
        assert status == 403, host
    status, _ = raw(d.url, http("GET", "/api/v1/queries", f"evil.example:{u.port}"))
    assert status == 403, "nothing is read through a rebound name either"
    q = requests.get(d.url + "/api/v1/queries/orders", timeout=10).json()
    assert q["active"] and q["stop"] is None, "no refused request stopped anything"
    # Loopback names and addresses, with or without a port, and the page's own origin pass.
    for host in (own, "127.0.0.1", f"localhost:{u.port}", "localhost", f"[::1]:{u.port}"):
        status, _ = raw(d.url, http("GET", "/api/v1/health", host))
        assert status == 200, host
    status, _ = raw(d.url, http("GET", "/api/v1/queries", own, {"Origin": f"http://{own}"}))
    assert status == 200
    # curl-like clients and the Python client keep working unchanged.
    r = requests.post(d.url + stop, params={"wait": "30s"}, timeout=60)
    assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED"
    assert d.proc.wait(timeout=60) == 0


# --- with a token: origins are allowed only when listed ------------------------------------------


@pytest.mark.transport("our HTTP server's origin, host and connection guards, before Spark is asked")
def test_with_a_token_only_listed_origins_are_allowed_and_get_cors_headers(spark, api):
    q = start_noop(spark, "cors-q")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    evil = requests.get(
        api.url + "/api/v1/queries", headers={**auth, "Origin": "https://evil.example"}, timeout=10
    )
    assert evil.status_code == 403 and "rest.allowedOrigins" in evil.json()["error"]
    assert "Access-Control-Allow-Origin" not in evil.headers
    r = requests.post(
        api.url + "/api/v1/queries/cors-q/stop",
        headers={**auth, "Origin": "https://evil.example"},
        timeout=10,
    )
    assert r.status_code == 403 and q.isActive
    ok = requests.get(
        api.url + "/api/v1/queries", headers={**auth, "Origin": "https://ops.example.com"}, timeout=10
    )
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "https://ops.example.com"
    pre = requests.options(
        api.url + "/api/v1/queries/cors-q/stop",
        headers={
            "Origin": "https://ops.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=10,
    )
    assert pre.status_code == 204 and "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    bad_pre = requests.options(
        api.url + "/api/v1/queries", headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert bad_pre.status_code == 403 and "Access-Control-Allow-Origin" not in bad_pre.headers
    no_token = requests.get(
        api.url + "/api/v1/queries", headers={"Origin": "https://ops.example.com"}, timeout=10
    )
    assert no_token.status_code == 401, "an allowed origin still needs the token"
    assert q.isActive
    q.stop()


# --- slow and broken clients ---------------------------------------------------------------------


@pytest.mark.transport("our HTTP server's origin, host and connection guards, before Spark is asked")
def test_sixteen_bad_clients_do_not_freeze_the_api(spark, api):
    q = start_noop(spark, "slow-clients-q", trigger={"processingTime": "10 minutes"})
    wait_for(lambda: q.lastProgress is not None, timeout=60)
    u = urlparse(api.url)
    stop_flag = threading.Event()
    sockets: list[socket.socket] = []

    def slow_headers() -> None:
        s = socket.create_connection((u.hostname, u.port), timeout=30)
        sockets.append(s)
        try:
            for b in b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200:
                if stop_flag.is_set():
                    return
                s.send(bytes([b]))
                time.sleep(0.2)
        except OSError:
            pass  # the server cut it off, as it should

    def body_never_sent() -> None:
        s = socket.create_connection((u.hostname, u.port), timeout=30)
        sockets.append(s)
        s.sendall(
            b"PUT /api/v1/conf/never HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            + TOKEN.encode()
            + b"\r\nContent-Length: 1000\r\n\r\nabc"
        )

    threads = [threading.Thread(target=slow_headers, daemon=True) for _ in range(8)]
    for _ in range(8):
        body_never_sent()
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)  # every bad client holds its connection now
        # The bad clients hold their connections until the end: a server they blocked would let
        # these requests run into their timeouts.
        for _ in range(10):
            assert requests.get(api.url + "/api/v1/health", timeout=10).status_code == 200
        r = api.post("/api/v1/queries/slow-clients-q/stop", params={"wait": "30s"})
        assert r.status_code == 200 and r.json()["stop"]["state"] == "STOPPED", r.text
        assert api.request("GET", "/api/v1/conf/never").status_code == 404, "the cut-off body changed nothing"
    finally:
        stop_flag.set()
        for s in sockets:
            s.close()


# --- long waits hold no thread --------------------------------------------------------------------


def test_twelve_long_graceful_stops_with_wait_are_all_answered(start_driver):
    names = [f"long-{i}" for i in range(12)]
    d = start_driver({"rest_port": 0, "batch_seconds": 20}, *names)
    wait_for(
        lambda: d.output().count("BATCH BEGIN") >= 12, timeout=120, what="a batch of every query in flight"
    )

    def stop(name: str) -> requests.Response:
        return requests.post(f"{d.url}/api/v1/queries/{name}/stop", params={"wait": "90s"}, timeout=150)

    with ThreadPoolExecutor(12) as pool:
        pending = [pool.submit(stop, n) for n in names]
        time.sleep(3)
        # While the twelve wait (their batches run 20 s), the server answers: no thread is held by a wait.
        for _ in range(5):
            assert requests.get(d.url + "/api/v1/health", timeout=5).status_code == 200
        answers = [f.result() for f in pending]
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.json()["stop"]["state"] == "STOPPED" and r.json()["active"] is False
    out = d.output()
    for name in names:
        assert out.count(f"BATCH BEGIN {name} ") == out.count(f"BATCH END {name} "), "every batch finished"
    assert d.proc.wait(timeout=60) == 0


# --- the token stays off command lines ------------------------------------------------------------


def test_the_token_is_on_no_command_line(spark):
    pid = spark._jvm.java.lang.ProcessHandle.current().pid()
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmdline = f.read()
    assert TOKEN.encode() not in cmdline
    assert b"auth.tokenFile" in cmdline, "the driver was given a file instead"
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    assert TOKEN.encode() not in f.read(), f"process {entry} shows the token"
            except OSError:
                continue
