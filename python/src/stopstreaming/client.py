"""``StopStreamingClient``: the HTTP control API for orchestrators and scripts."""

from __future__ import annotations

import ipaddress
import os
import warnings
from typing import Any
from urllib.parse import urlsplit

import requests

from stopstreaming.durations import Duration, duration_text
from stopstreaming.errors import (
    AmbiguousQueryError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    QueryNotFoundError,
    RequestError,
    ServerUnreachableError,
)
from stopstreaming.settings import MAX_WAIT_S

__all__ = ["MAX_WAIT_S", "InsecureTokenWarning", "StopStreamingClient"]

# Error codes (docs/http-api.md) that name something missing, or a change that lost a race.
_NOT_FOUND = frozenset({"query-not-found", "key-not-found", "not-managed"})
_CONFLICT = frozenset(
    {
        "version-conflict",
        "nothing-pending",
        "already-ended",
        "conflict",
        "lifecycle-conflict",
        "checkpoint-unreadable",
    }
)


class InsecureTokenWarning(UserWarning):
    """A token is about to travel over plain HTTP to another host."""


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class StopStreamingClient:
    """A client of one driver's control server, e.g. ``StopStreamingClient("https://driver:8558", token)``.

    HTTPS certificates are verified, against ``ca_file`` (or ``STOPSTREAMING_CA_FILE``) when given,
    else against the system's trusted authorities.
    """

    def __init__(
        self, url: str, token: str | None = None, timeout: float = 30.0, ca_file: str | None = None
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"url must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.token = token or None
        if self.token and self.url.startswith("http://") and not _is_loopback(self.url):
            warnings.warn(
                f"the token is sent in clear text to {self.url}: anyone on the network path can read it "
                "(serve the control API over https: spark.stopstreaming.rest.ssl.keyStore)",
                InsecureTokenWarning,
                stacklevel=2,
            )
        self.timeout = float(timeout)
        self._http = requests.Session()
        ca = ca_file or os.environ.get("STOPSTREAMING_CA_FILE")
        if ca and not os.path.isfile(ca):
            raise ConfigurationError(f"CA file {ca!r} does not exist")
        # Per request: a session's own setting would lose to REQUESTS_CA_BUNDLE from the environment.
        self._verify: str | bool = ca or True

    def _request(self, method: str, path: str, wait_s: float = 0.0, **kw: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(kw.pop("headers", {}))
        try:
            r = self._http.request(
                method,
                self.url + path,
                headers=headers,
                timeout=self.timeout + wait_s,
                verify=self._verify,
                **kw,
            )
        except requests.exceptions.SSLError as e:
            raise ServerUnreachableError(
                f"TLS with {self.url} failed (is --ca-file / STOPSTREAMING_CA_FILE the server's CA?): {e}"
            ) from e
        except requests.Timeout as e:
            raise ServerUnreachableError(
                f"{self.url} did not answer within {self.timeout + wait_s:.0f}s"
            ) from e
        except requests.RequestException as e:
            raise ServerUnreachableError(f"cannot reach {self.url}: {e.__class__.__name__}") from e
        try:
            body = r.json()
        except ValueError:
            body = {"error": r.text[:200] or r.reason}
        if r.status_code < 400:
            return body
        body = body if isinstance(body, dict) else {}
        message = body.get("error", r.reason)
        # The error's stable code decides (docs/http-api.md); a server without codes (before
        # 0.2) is mapped by status as it used to be.
        code = body.get("code")
        if r.status_code == 401:
            raise AuthenticationError(f"{message} (HTTP 401)")
        if code in _NOT_FOUND or (code is None and r.status_code == 404):
            raise QueryNotFoundError(message)
        if code == "ambiguous-name" or (r.status_code == 409 and "matches" in body):
            raise AmbiguousQueryError(message)
        if code in _CONFLICT or (code is None and r.status_code in (409, 412)):
            raise ConflictError(message)
        raise RequestError(f"{message} (HTTP {r.status_code})", status=r.status_code)

    def health(self) -> dict[str, Any]:
        """``GET /api/v1/health``: ``{"status": "UP", "version": ...}``."""
        return self._request("GET", "/api/v1/health")

    def queries(self) -> list[dict[str, Any]]:
        """Every query the driver knows: running ones first, then ended ones."""
        return list(self._request("GET", "/api/v1/queries")["queries"])

    def query(self, id_or_name: str) -> dict[str, Any]:
        """One query by id or name; raises ``QueryNotFoundError`` if there is none."""
        return self._request("GET", f"/api/v1/queries/{_segment(id_or_name)}")

    def stop(
        self,
        id_or_name: str,
        mode: str | None = None,
        timeout: Duration | None = None,
        wait: Duration | None = None,
        when: str | None = None,
    ) -> dict[str, Any]:
        """Request a stop of a query and return it as JSON.

        With ``wait`` (e.g. ``"2m"``, or ``120`` seconds) the answer comes once the query ended or
        the wait ran out; ``result["active"]`` tells whether it still runs. ``when`` makes it a
        conditional stop (``"caught-up"``, ``"batch:<N>"``, ``"in:<duration>"`` or an ISO-8601
        instant), PENDING in ``result["stop"]`` until the condition holds.
        """
        timeout, wait = duration_text("timeout", timeout), duration_text("wait", wait)
        params = {
            k: v for k, v in (("mode", mode), ("timeout", timeout), ("wait", wait), ("when", when)) if v
        }
        # The server checks `wait` (at most 10 minutes); the answer may take that long.
        wait_s = MAX_WAIT_S if wait else 0.0
        return self._request(
            "POST", f"/api/v1/queries/{_segment(id_or_name)}/stop", wait_s=wait_s, params=params
        )

    def cancel(self, id_or_name: str) -> dict[str, Any]:
        """Cancel a query's pending conditional stop; ``ConflictError`` when there is none."""
        return self._request("DELETE", f"/api/v1/queries/{_segment(id_or_name)}/stop")

    def managed(self) -> list[dict[str, Any]]:
        """Every managed query (``GET /api/v1/managed``): its state, runs, failures, next attempt."""
        return list(self._request("GET", "/api/v1/managed")["managed"])

    def managed_query(self, name: str) -> dict[str, Any]:
        """One managed query by name; ``QueryNotFoundError`` if no query of that name is managed."""
        return self._request("GET", f"/api/v1/managed/{_segment(name)}")

    def _lifecycle(
        self,
        verb: str,
        name: str,
        when: str | None = None,
        timeout: Duration | None = None,
        wait: Duration | None = None,
    ) -> dict[str, Any]:
        params = {
            "when": when,
            "timeout": duration_text("timeout", timeout),
            "wait": duration_text("wait", wait),
        }
        given = {k: v for k, v in params.items() if v}
        wait_s = MAX_WAIT_S if given.get("wait") else 0.0
        return self._request("POST", f"/api/v1/queries/{_segment(name)}/{verb}", wait_s=wait_s, params=given)

    def pause(
        self,
        name: str,
        when: str | None = None,
        timeout: Duration | None = None,
        wait: Duration | None = None,
    ) -> dict[str, Any]:
        """Pause a managed query: a graceful stop (now, or once ``when`` holds), then PAUSED.

        With ``wait`` (e.g. ``"2m"``) the answer comes once PAUSED or the wait ran out.
        """
        return self._lifecycle("pause", name, when=when, timeout=timeout, wait=wait)

    def resume(self, name: str, wait: Duration | None = None) -> dict[str, Any]:
        """Start a paused managed query again from its checkpoint; with ``wait``, once it runs."""
        return self._lifecycle("resume", name, wait=wait)

    def restart(
        self,
        name: str,
        when: str | None = None,
        timeout: Duration | None = None,
        wait: Duration | None = None,
    ) -> dict[str, Any]:
        """Stop a managed query gracefully and start it again; with ``wait``, once it runs again."""
        return self._lifecycle("restart", name, when=when, timeout=timeout, wait=wait)

    def restart_in_order(self, names: list[str], wait: Duration = "5m") -> list[dict[str, Any]]:
        """Restart several managed queries one after the other, each once the one before runs again.

        Stops at the first that is not RUNNING again within ``wait`` (``StopTimeoutError``).
        """
        from stopstreaming.errors import StopTimeoutError

        done = []
        for name in names:
            view = self.restart(name, wait=wait)
            done.append(view)
            if view["state"] != "RUNNING":
                rest = ", ".join(names[len(done) :])
                raise StopTimeoutError(
                    f"{name} is {view['state']} after restart --wait {wait}; not restarting {rest}"
                )
        return done

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """Audit records after record number ``since``, oldest first (``GET /api/v1/events``)."""
        return list(self._request("GET", "/api/v1/events", params={"since": str(int(since))})["events"])

    def conf_list(self) -> dict[str, Any]:
        """``{"version": N, "entries": {key: {"value", "version", "updatedAt"}}}``."""
        return self._request("GET", "/api/v1/conf")

    def conf_get(self, key: str) -> dict[str, Any]:
        """One entry ``{"key", "value", "version", "updatedAt"}``; ``QueryNotFoundError`` when unset."""
        return self._request("GET", f"/api/v1/conf/{_segment(key)}")

    def conf_set(self, key: str, value: str, if_version: int | None = None) -> dict[str, Any]:
        """Set ``key``; with ``if_version``, only if the key is at that version (0: unset).

        A lost compare-and-set raises ``ConflictError``.
        """
        return self._request(
            "PUT",
            f"/api/v1/conf/{_segment(key)}",
            data=value.encode("utf-8"),
            headers=_if_match(if_version),
        )

    def conf_unset(self, key: str, if_version: int | None = None) -> dict[str, Any]:
        """Remove ``key`` and return its last entry; ``QueryNotFoundError`` when it was not set."""
        return self._request("DELETE", f"/api/v1/conf/{_segment(key)}", headers=_if_match(if_version))


def _if_match(version: int | None) -> dict[str, str]:
    return {} if version is None else {"If-Match": str(int(version))}


def _segment(s: str) -> str:
    from urllib.parse import quote

    if not isinstance(s, str) or not s:
        raise ConfigurationError("a query id or name must be a non-empty string")
    return quote(s, safe="")
