"""HTTPS: a key store made with keytool at test time, served with TLS 1.2+ only, verified by the
Python client and the CLI against its CA file."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from urllib.parse import urlparse

import pytest
import requests

import stopstreaming
from conftest import SCRIPT

pytestmark = pytest.mark.transport(
    "TLS of the JDK server in front of the plugin; Spark is not involved in a handshake"
)

KEYTOOL = shutil.which("keytool")


@pytest.fixture
def key_store(tmp_path):
    if KEYTOOL is None:
        pytest.skip("keytool (from the JDK) is not on PATH")
    ks, cert = tmp_path / "server.p12", tmp_path / "ca.pem"
    subprocess.run(
        [KEYTOOL, "-genkeypair", "-alias", "stopstreaming", "-keyalg", "RSA", "-keysize", "2048",
         "-validity", "2", "-dname", "CN=localhost", "-ext", "SAN=ip:127.0.0.1,dns:localhost",
         "-storetype", "PKCS12", "-keystore", str(ks), "-storepass", "changeit", "-keypass", "changeit"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [KEYTOOL, "-exportcert", "-rfc", "-alias", "stopstreaming", "-keystore", str(ks),
         "-storetype", "PKCS12", "-storepass", "changeit", "-file", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(ks), str(cert)


def test_https_with_a_key_store(start_driver, key_store, tmp_path):
    ks, ca = key_store
    password_file = tmp_path / "ks-password"
    password_file.write_text("changeit")
    d = start_driver(
        {"rest_port": 0, "auth_token_file": _token_file(tmp_path), "rest_host": "127.0.0.1",
         "rest_ssl_key_store": ks, "rest_ssl_key_store_password_file": str(password_file)},
        "tls-q",
    )  # fmt: skip
    assert d.url.startswith("https://127.0.0.1:"), d.url
    client = stopstreaming.StopStreamingClient(d.url, "tls-token", ca_file=ca)
    assert client.health()["status"] == "UP"
    assert [q["name"] for q in client.queries()] == ["tls-q"]

    # Verified by default: without the CA the certificate is refused.
    with pytest.raises(stopstreaming.ServerUnreachableError, match="TLS"):
        stopstreaming.StopStreamingClient(d.url, "tls-token").health()
    env = {"PATH": "/usr/bin:/bin", "STOPSTREAMING_TOKEN": "tls-token"}
    r = subprocess.run([SCRIPT, "--url", d.url, "list"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 5 and "TLS" in r.stderr, r.stderr
    r = subprocess.run(
        [SCRIPT, "list", "--url", d.url, "--ca-file", ca], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 0 and "tls-q" in r.stdout, r.stderr

    # Plain HTTP to the HTTPS port gets nothing; TLS 1.1 is refused.
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(d.url.replace("https://", "http://") + "/api/v1/health", timeout=5)
    u = urlparse(d.url)
    modern = ssl.create_default_context(cafile=ca)
    with socket.create_connection((u.hostname, u.port), timeout=5) as s:
        with modern.wrap_socket(s, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.0/1.1 at all
    old.load_verify_locations(ca)
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection((u.hostname, u.port), timeout=5) as s:
            with old.wrap_socket(s, server_hostname="127.0.0.1"):
                pass

    r = client.stop("tls-q", wait="30s")
    assert r["stop"]["state"] == "STOPPED"
    assert d.proc.wait(timeout=60) == 0


def _token_file(tmp_path) -> str:
    p = tmp_path / "token"
    p.write_text("tls-token")
    p.chmod(0o600)
    return str(p)
