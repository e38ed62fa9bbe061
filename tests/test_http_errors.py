"""The error table of the HTTP API: each rejected request answers JSON and stops nothing."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest
import requests

from conftest import Api, start_noop, wait_for

pytestmark = pytest.mark.transport("the error table of our HTTP router, answered before any Spark call")


@pytest.fixture
def victim(spark, api):
    q = start_noop(spark, name="victim")
    wait_for(lambda: q.lastProgress is not None, what="victim running")
    yield q
    assert q.isActive, "a rejected request stopped the query"
    assert api.query(str(q.id))["stop"] is None
    q.stop()


# Every error's stable code (docs/http-api.md), by status where the status says it all.
GENERAL = {400: "bad-request", 401: "unauthorized", 405: "method-not-allowed", 413: "too-large"}


def _error(r: requests.Response, code: int, kind: str | None = None) -> str:
    assert r.status_code == code, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]
    assert body["code"] == (kind or GENERAL[code]), body
    return body["error"]


@pytest.mark.smoke
def test_health_needs_no_token(api):
    r = requests.get(api.url + "/api/v1/health", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "UP"
    import stopstreaming

    assert r.json()["version"] == stopstreaming.__version__


@pytest.mark.parametrize(
    "mode_param",
    [{"mode": "gentle"}, {"timeout": "soon"}, {"wait": "-1s"}, {"force": "1"}],
)
def test_400_bad_parameter(api, victim, mode_param):
    _error(api.post(f"/api/v1/queries/{victim.id}/stop", params=mode_param), 400)


def _raw(api, method: str, path: str) -> str:
    """Send a request line exactly as written (HTTP clients normalise paths); return the reply."""
    u = urlparse(api.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")


def test_400_malformed_percent_encoding(api, victim):
    # Not valid URI syntax: the JDK server rejects it itself (a plain-text 400) before any handler.
    reply = _raw(api, "POST", f"/api/v1/queries/{victim.id}%zz/stop")
    assert reply.startswith("HTTP/1.1 400"), reply
    # Valid syntax, but not UTF-8 once decoded: our router answers, in JSON.
    reply = _raw(api, "POST", f"/api/v1/queries/{victim.id}%C3%28/stop")
    assert reply.startswith("HTTP/1.1 400") and '{"error":' in reply, reply


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_401_missing_or_wrong_token(api, victim, token):
    bad = Api(api.url, token=token)
    for r in (
        bad.get("/api/v1/queries"),
        bad.post(f"/api/v1/queries/{victim.id}/stop"),
        bad.post(f"/stop/{victim.id}"),
    ):
        msg = _error(r, 401)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert "test-token" not in msg and (token is None or token == "" or token not in msg)


def test_401_comes_before_404_so_paths_do_not_leak(api):
    _error(Api(api.url, token=None).get("/no/such/thing"), 401)


@pytest.mark.smoke
def test_404_unknown_query(api, victim):
    _error(api.post("/api/v1/queries/00000000-0000-0000-0000-000000000000/stop"), 404, "query-not-found")
    _error(api.get("/api/v1/queries/no-such-name"), 404, "query-not-found")
    _error(api.post("/stop/00000000-0000-0000-0000-000000000000"), 404, "query-not-found")
    _error(api.get("/api/v1/conf/no.such.key"), 404, "key-not-found")


def test_404_unknown_path(api, victim):
    _error(api.get("/api/v2/queries"), 404, "no-such-endpoint")
    _error(api.get("/ui/nothing.js"), 404, "no-such-endpoint")
    _error(api.get("/index.html"), 404, "no-such-endpoint")


def test_405_wrong_method_names_the_allowed_one(api, victim):
    r = api.request("DELETE", "/api/v1/queries")
    _error(r, 405)
    assert r.headers["Allow"] == "GET"
    r = api.get(f"/api/v1/queries/{victim.id}/stop")
    _error(r, 405)
    assert r.headers["Allow"] == "POST, DELETE"
    r = api.request("PUT", f"/stop/{victim.id}")
    _error(r, 405)
    assert r.headers["Allow"] == "POST"


def test_413_body_over_64_kib(api, victim):
    _error(api.post(f"/api/v1/queries/{victim.id}/stop", data=b"x" * (64 * 1024 + 1)), 413)


def test_seed_paths_match_exactly(api, victim):
    """The seed matched by prefix; each of these stopped its query there. Here none does."""
    _error(api.post(f"/stop/{victim.id}xyz"), 404, "query-not-found")
    _error(api.post(f"/stop/{victim.id}/extra"), 404, "no-such-endpoint")
    # requests would normalise '..' away, so this one goes over a raw socket.
    reply = _raw(api, "POST", f"/stop/{victim.id}/../../x")
    assert reply.startswith("HTTP/1.1 400"), reply
    try:
        r = api.post(f"/stop/{victim.id}", data=b"x" * (10 * 1024 * 1024))
        _error(r, 413)
    except requests.ConnectionError:
        pass  # the server may close the connection before the client finished sending 10 MB


def test_server_keeps_serving_after_errors(api, victim):
    for _ in range(20):
        api.get("/nope")
        api.post(f"/api/v1/queries/{victim.id}/stop", params={"mode": "x"})
    assert api.get("/api/v1/queries").status_code == 200
