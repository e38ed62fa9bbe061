"""Hostile HTTP over raw sockets against a real driver (`make robustness`).

Sends at least 10,000 requests (random methods, paths with dot segments, percent-encodings and
non-UTF-8 bytes, query strings, auth headers, oversized headers, bodies that are truncated,
oversized, not JSON or sent with a malformed chunked encoding), half of them with the right token,
and reports how they were answered. It fails unless no answer is a 5xx, the server is still
healthy, and the victims (queries and dynamic values the fuzz never names) are untouched.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=20261122)
    args = ap.parse_args()

    options = {"rest_port": 0, "rest_host": "127.0.0.1", "auth_token": TOKEN, "conf": {"victim.value": "42"}}
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
        rng = random.Random(args.seed)
        payloads = [request_bytes(rng, host) for _ in range(args.requests)]
        print(f"fuzz: {len(payloads)} requests against {url} ...", flush=True)
        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda p: send(addr, p), payloads))
        took = time.monotonic() - t0
        counts = collections.Counter(answers)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        health = requests.get(url + "/api/v1/health", timeout=5).status_code
        victims = {
            v: requests.get(f"{url}/api/v1/queries/{v}", headers=auth, timeout=5).json() for v in VICTIMS
        }
        value = requests.get(url + "/api/v1/conf/victim.value", headers=auth, timeout=5).json()["value"]
        server_errors = sum(n for k, n in counts.items() if k.startswith("5"))
        untouched = all(q["active"] and q["stop"] is None for q in victims.values()) and value == "42"
        report = {
            "requests": len(payloads),
            "seconds": round(took, 1),
            "status_counts": dict(sorted(counts.items())),
            "server_errors": server_errors,
            "healthy_after": health == 200,
            "victims_untouched": untouched,
        }
        print(json.dumps(report, indent=2))
        results = ROOT / "bench" / "results"
        results.mkdir(parents=True, exist_ok=True)
        (results / "fuzz.json").write_text(json.dumps(report, indent=2))
        ok = server_errors == 0 and health == 200 and untouched
        print("fuzz: " + ("PASSED" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        proc.kill()
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
