"""Hostile HTTP over raw sockets against a real driver (`make robustness`).

Three attacks on one driver (1 GiB heap), in this order, with the driver's heap after a full GC
measured before the first and after the last:

1. fuzz: at least 10,000 requests (random methods, paths with dot segments, percent-encodings and
non-UTF-8 bytes, query strings, auth headers, oversized headers, bodies that are truncated,
oversized, not JSON or sent with a malformed chunked encoding), half of them with the right token,
and reports how they were answered;
2. flood: 100,000 requests without the token (or from a foreign web origin, or for a foreign
   Host), most naming a query by a 10,000-character name, over keep-alive connections;
3. hold: 300 connections that trickle their headers or never finish their body, for 60 s, while
   an operator asks for the query list with the token every second.

It fails unless no answer is a 5xx, the server is still healthy, the victims (queries and dynamic
values the attacks never name) are untouched, the heap after GC grew by at most 16 MB, the audit
trail holds a handful of refusal records, and the operator was answered within 2 s every time.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "fuzz-token-0123456789"
VICTIMS = ["victim-a", "victim-b"]

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO", "G\x00T", ""]
SEGMENTS = ["api", "v1", "queries", "conf", "health", "stop", "..", ".", "", "%2F", "%2e%2e", "%00", "%ff",
            "%", "%zz", "fuzz-q", "fuzz.key", "\xff\xfe", "a" * 300, "%c3%28", "~", "q;x", "*"]  # fmt: skip
PARAMS = ["mode=graceful", "mode=violent", "wait=1ms", "wait=-1s", "wait=99999h", "timeout=abc", "when=x",
          "mode=immediate&mode=graceful", "%zz=1", "a=%ff", "=", "&&", "wait=" + "9" * 40]  # fmt: skip


def request_bytes(rng: random.Random, host: str) -> bytes:
    method = rng.choice(METHODS)
    path = "/" + "/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(0, 6)))
    if rng.random() < 0.5:
        path += "?" + "&".join(rng.choice(PARAMS) for _ in range(rng.randint(1, 3)))
    headers = [f"Host: {rng.choice([host, 'evil.example', 'localhost', ''])}", "Connection: close"]
    if rng.random() < 0.5:
        headers.append(f"Authorization: Bearer {TOKEN}")
    elif rng.random() < 0.5:
        headers.append(rng.choice(["Authorization: Bearer nope", "Authorization: Basic x", "Authorization:"]))
    if rng.random() < 0.2:
        headers.append(
            rng.choice(["Origin: https://evil.example", "Origin: null", "If-Match: abc", "If-Match: 99"])
        )
    if rng.random() < 0.05:
        headers.append("X-Big: " + "b" * rng.choice([9000, 70000]))
    body = b""
    kind = rng.choice(
        ["none", "json", "text", "truncated", "oversized", "chunked-bad", "chunked-ok", "binary"]
    )
    if kind == "json":
        body = json.dumps({"mode": rng.choice(["graceful", 1, None])}).encode()
    elif kind == "text":
        body = b"not json at all"
    elif kind == "binary":
        body = bytes(rng.getrandbits(8) for _ in range(64))
    elif kind == "oversized":
        body = b"x" * (64 * 1024 + 10)
    if kind == "truncated":
        headers.append("Content-Length: 1000")
        body = b"short"
    elif kind.startswith("chunked"):
        headers.append("Transfer-Encoding: chunked")
        body = (
            b"5\r\nhello\r\n0\r\n\r\n"
            if kind == "chunked-ok"
            else rng.choice([b"zz\r\nhello\r\n", b"5\r\nhelloXX", b"ffffffffff\r\nab", b"3\r\nabc\r\nq\r\n"])
        )
    elif body:
        headers.append(f"Content-Length: {len(body)}")
    line = f"{method} {path} HTTP/1.1\r\n".encode("latin-1", "replace")
    if rng.random() < 0.05:
        line = bytes(rng.getrandbits(8) for _ in range(40)) + b"\r\n"
    return line + ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1", "replace") + body


def send(addr: tuple[str, int], payload: bytes) -> str:
    """The answer's status code, or what happened instead."""
    try:
        with socket.create_connection(addr, timeout=3) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)  # a truncated body ends here: the server must not wait for more
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except socket.timeout:
        return "no answer (timeout)"
    except OSError:
        return "connection closed"
    if not data.startswith(b"HTTP/1.1 "):
        return "connection closed" if not data else "not HTTP"
    return data.split(b" ", 2)[1].decode()


def driver_jvm(python_pid: int) -> int:
    """The pid of the driver JVM that the Python driver process started (its Py4J gateway)."""
    out = subprocess.run(["jcmd", "-l"], capture_output=True, text=True, timeout=60).stdout
    for line in out.splitlines():
        pid, _, what = line.partition(" ")
        if "SparkSubmit" in what and "pyspark-shell" in what:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == python_pid:
                return int(pid)
    raise SystemExit(f"no driver JVM found under pid {python_pid}:\n{out}")


def heap_after_gc_mb(jvm: int) -> float:
    """The driver's used heap, in MB, right after a full GC."""
    subprocess.run(["jcmd", str(jvm), "GC.run"], capture_output=True, timeout=120, check=True)
    time.sleep(1)
    subprocess.run(["jcmd", str(jvm), "GC.run"], capture_output=True, timeout=120, check=True)
    info = subprocess.run(
        ["jcmd", str(jvm), "GC.heap_info"], capture_output=True, text=True, timeout=60
    ).stdout
    m = re.search(r"total \d+K, used (\d+)K", info)
    if not m:
        raise SystemExit(f"cannot read the heap from:\n{info}")
    return round(int(m.group(1)) / 1024, 1)


def flood(addr: tuple[str, int], host: str, total: int, workers: int = 8) -> dict:
    """``total`` refused requests over keep-alive connections; counts of the answers."""
    kinds = [
        ("POST", "/api/v1/queries/{name}/stop", {}),
        ("POST", "/api/v1/queries/{name}/stop", {"Authorization": "Bearer wrong"}),
        ("DELETE", "/api/v1/queries/{name}/stop", {"Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"}),
        ("PUT", "/api/v1/conf/{name}", {}),
        ("POST", "/stop/{name}", {"Host": "rebound.example"}),
        ("GET", "/api/v1/events", {}),
    ]  # fmt: skip
    counts: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def worker(n: int, seed: int) -> None:
        rng = random.Random(seed)
        local: collections.Counter = collections.Counter()
        conn = http.client.HTTPConnection(*addr, timeout=10)
        for i in range(n):
            method, path, headers = rng.choice(kinds)
            name = ("n" * 10_000 if rng.random() < 0.8 else "q") + str(i)
            try:
                conn.request(method, path.format(name=name), headers={"Host": host, **headers})
                r = conn.getresponse()
                r.read()
                local[str(r.status)] += 1
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(*addr, timeout=10)
            except (OSError, http.client.HTTPException) as e:
                local[type(e).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection(*addr, timeout=10)
        conn.close()
        with lock:
            counts.update(local)

    threads = [threading.Thread(target=worker, args=(total // workers, k)) for k in range(workers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    return {"requests": total // workers * workers, "seconds": round(took, 1),
            "per_second": round(total / took), "status_counts": dict(sorted(counts.items()))}  # fmt: skip


def hold(url: str, addr: tuple[str, int], count: int, seconds: float) -> dict:
    """``count`` connections that never finish, for ``seconds``, beside an operator's requests."""
    done = threading.Event()
    opened = collections.Counter()

    def one(i: int) -> None:
        slow = i % 2 == 1
        head = b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
        body = b"PUT /api/v1/conf/never HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000\r\n\r\nabc"
        while not done.is_set():
            try:
                with socket.create_connection(addr, timeout=5) as s:
                    opened["slow" if slow else "body"] += 1
                    if slow:
                        for b in head:
                            if done.wait(1.0):
                                break
                            s.send(bytes([b]))
                    else:
                        s.sendall(body)
                        done.wait(seconds)
            except OSError:
                done.wait(0.2)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    time.sleep(3)
    auth = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
    latencies, failures = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            ok = requests.get(url + "/api/v1/queries", headers=auth, timeout=10).status_code == 200
        except requests.RequestException:
            ok = False
        latencies.append(time.monotonic() - t0)
        failures += not ok
        time.sleep(max(0.0, 1.0 - latencies[-1]))
    done.set()
    for t in threads:
        t.join(timeout=10)
    t0 = time.monotonic()
    recovered = False
    while time.monotonic() - t0 < 30 and not recovered:
        try:
            recovered = requests.get(url + "/api/v1/health", timeout=5).status_code == 200
        except requests.RequestException:
            time.sleep(0.5)
    latencies.sort()
    return {"connections": count, "seconds": seconds, "connections_opened": dict(opened),
            "operator_requests": len(latencies), "operator_failures": failures,
            "operator_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "operator_worst_ms": round(latencies[-1] * 1000, 1), "recovered": recovered}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--flood", type=int, default=100_000, help="requests of the refusal flood")
    ap.add_argument("--hold-seconds", type=float, default=60.0, help="how long 300 connections are held")
    args = ap.parse_args()

    options = {"rest_port": 0, "rest_host": "127.0.0.1", "auth_token": TOKEN, "conf": {"victim.value": "42"},
               "spark_conf": {"spark.driver.memory": "1g"}}  # fmt: skip
    out = tempfile.NamedTemporaryFile("w+", suffix=".out", delete=False)  # noqa: SIM115
    import pyspark

    env = {**os.environ, "SPARK_HOME": os.path.dirname(pyspark.__file__), "PYSPARK_PYTHON": sys.executable,
           "SPARK_CONF_DIR": str(ROOT / "tests" / "spark-conf"), "SPARK_LOCAL_IP": "127.0.0.1"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "apps" / "control_app.py"), json.dumps(options), *VICTIMS],
        stdout=out, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        url = None
        deadline = time.monotonic() + 180
        while url is None and time.monotonic() < deadline:
            time.sleep(0.5)
            lines = [ln for ln in Path(out.name).read_text().splitlines() if ln.startswith("READY ")]
            url = lines[0].split(" ", 1)[1] if lines else None
            if proc.poll() is not None:
                raise SystemExit("the driver exited:\n" + Path(out.name).read_text()[-3000:])
        assert url, "the driver did not start"
        u = urlparse(url)
        addr, host = (u.hostname, u.port), f"{u.hostname}:{u.port}"
        jvm = driver_jvm(proc.pid)
        heap_before = heap_after_gc_mb(jvm)
        print(f"driver heap after GC before the attacks: {heap_before} MB", flush=True)
        rng = random.Random(args.seed)
        payloads = [request_bytes(rng, host) for _ in range(args.requests)]
        print(f"fuzz: {len(payloads)} requests against {url} ...", flush=True)
        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda p: send(addr, p), payloads))
        took = time.monotonic() - t0
        counts = collections.Counter(answers)
        print(f"flood: {args.flood} refused requests ...", flush=True)
        flooded = flood(addr, host, args.flood)
        print(json.dumps(flooded), flush=True)
        print(f"hold: 300 connections for {args.hold_seconds:.0f}s ...", flush=True)
        held = hold(url, addr, 300, args.hold_seconds)
        print(json.dumps(held), flush=True)
        heap_after = heap_after_gc_mb(jvm)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        events = requests.get(url + "/api/v1/events", headers=auth, timeout=10).json()["events"]
        refusal_records = sum(e["kind"] == "stop-refused" or e["kind"] == "conf-refused" for e in events)
        health = requests.get(url + "/api/v1/health", timeout=5).status_code
        victims = {
            v: requests.get(f"{url}/api/v1/queries/{v}", headers=auth, timeout=5).json() for v in VICTIMS
        }
        value = requests.get(url + "/api/v1/conf/victim.value", headers=auth, timeout=5).json()["value"]
        server_errors = sum(n for k, n in counts.items() if k.startswith("5"))
        untouched = all(q["active"] and q["stop"] is None for q in victims.values()) and value == "42"
        server_errors += sum(n for k, n in flooded["status_counts"].items() if k.startswith("5"))
        report = {
            "requests": len(payloads),
            "seconds": round(took, 1),
            "status_counts": dict(sorted(counts.items())),
            "server_errors": server_errors,
            "flood": flooded,
            "hold": held,
            "heap_after_gc_mb_before": heap_before,
            "heap_after_gc_mb_after": heap_after,
            "heap_growth_mb": round(heap_after - heap_before, 1),
            "refusal_records": refusal_records,
            "audit_records": len(events),
            "healthy_after": health == 200,
            "victims_untouched": untouched,
        }
        print(json.dumps(report, indent=2))
        results = ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        (results / "fuzz.json").write_text(json.dumps(report, indent=2))
        ok = (
            server_errors == 0
            and health == 200
            and untouched
            and heap_after - heap_before <= 16
            and refusal_records <= 50
            and held["operator_failures"] == 0
            and held["operator_worst_ms"] < 2000
            and held["recovered"]
        )
        print("fuzz: " + ("PASSED" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        proc.kill()
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
