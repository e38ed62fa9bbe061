"""Many drivers seen as one: the fleet of a shared stop directory.

Every driver with ``fs.stopDir`` writes one marker per registered query into that directory, and
each marker names the driver's host and control URL. A fleet lists the markers, asks each driver
over HTTP for its queries, and sends a stop to the driver that runs the query, or writes a
``<name or id>.stop`` file beside the markers when that driver cannot be reached over HTTP.

Local paths and mounted volumes (``/dbfs/...`` on Databricks, a Kubernetes volume) are read
directly. Object store URLs (``s3://``, ``s3a://``, ``abfss://``, ``gs://``) go through fsspec
and its backend package: ``pip install 'stopstreaming[fleet-s3]'`` (``fleet-azure``, ``fleet-gcs``).
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import re
from dataclasses import dataclass, field
from typing import Any

from stopstreaming.client import StopStreamingClient
from stopstreaming.errors import (
    AmbiguousQueryError,
    ConfigurationError,
    QueryNotFoundError,
    StopStreamingError,
)
from stopstreaming.storage import open_directory

__all__ = ["Driver", "Fleet", "marker_proof"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

_PROOF_VERSION = "stopstreaming-marker-v1"


def marker_proof(token: str, marker: dict[str, Any]) -> str:
    """Compute the proof a driver holding ``token`` writes into its marker.

    It is the HMAC-SHA256 of the fields a fleet acts on, one per line after a version tag.
    """
    fields = [
        _PROOF_VERSION,
        str(marker.get("id") or ""),
        str(marker.get("runId") or ""),
        str(marker.get("driverHost") or ""),
        str(marker.get("controlUrl") or ""),
    ]
    return hmac.new(token.encode(), "\n".join(fields).encode(), hashlib.sha256).hexdigest()


def _why_unverified(token: str | None, marker: dict[str, Any]) -> str | None:
    """None when the fleet may send its token to this marker's driver; otherwise why not."""
    if token is None:
        return None  # no token: nothing secret is sent to anyone
    proof = marker.get("proof")
    if not isinstance(proof, str) or not proof:
        return "its marker carries no proof of the token (a driver without a token, or not a driver's marker)"
    if not hmac.compare_digest(proof.encode("utf-8", "replace"), marker_proof(token, marker).encode()):
        return "its marker's proof does not match the fleet's token (another token, or a forged marker)"
    return None


@dataclass
class Driver:
    """One driver of the fleet: its control URL, and what it answered (or why it did not).

    ``verified`` is False for markers that do not prove the fleet's token: such a driver is listed,
    never contacted (the token is sent only to drivers that proved they hold it).
    """

    url: str | None
    host: str | None
    markers: list[dict[str, Any]] = field(default_factory=list)
    queries: list[dict[str, Any]] | None = None
    error: str | None = None
    verified: bool = True

    @property
    def reachable(self) -> bool:
        """Whether the driver answered over HTTP."""
        return self.queries is not None

    def row(self, query: dict[str, Any], **about: Any) -> dict[str, Any]:
        """Return one query of this driver as a fleet shows it: where it runs, then ``query`` itself.

        ``query`` is the driver's answer, or the marker when the driver was not reached; then the row
        also says whether the marker proved the token and why the driver was not asked.
        """
        row = {"driver": self.url, "driverHost": self.host, "reachable": self.reachable, **about}
        if not self.reachable:
            row.update(verified=self.verified, error=self.error)
        return {**row, **query}


class Fleet:
    """The drivers whose markers are in one stop directory."""

    def __init__(
        self,
        location: str,
        token: str | None = None,
        timeout: float = 10.0,
        ca_file: str | None = None,
    ) -> None:
        self.location = location
        self._dir = open_directory(location, what="fleet directory")
        self._token, self._timeout, self._ca_file = token, timeout, ca_file

    def client(self, url: str) -> StopStreamingClient:
        """Return an HTTP client for one driver, with the fleet's token and CA."""
        return StopStreamingClient(url, self._token, timeout=self._timeout, ca_file=self._ca_file)

    def markers(self) -> list[dict[str, Any]]:
        """Return the markers in the directory: one per registered query of every driver."""
        out = []
        try:
            names = self._dir.names()
        except FileNotFoundError:
            raise ConfigurationError(f"fleet directory {self.location} does not exist") from None
        for name in sorted(names):
            if not _UUID.match(name):
                continue
            raw = self._dir.read(name)
            try:
                m = json.loads(raw or b"")
            except (ValueError, RecursionError):
                continue  # empty (0.x style), half-written, or not a marker: nothing to tell about it
            if isinstance(m, dict) and m.get("id") == name:
                out.append(m)
        return out

    def drivers(self) -> list[Driver]:
        """Every driver of the fleet, asked for its queries over HTTP."""
        by_url: dict[str, Driver] = {}
        for m in self.markers():
            why = _why_unverified(self._token, m)
            key = m.get("controlUrl") or f"(no HTTP) {m.get('driverHost')}"
            if why:
                key = f"(unverified) {key}"
            d = by_url.setdefault(key, Driver(m.get("controlUrl"), m.get("driverHost")))
            if why:
                d.verified, d.error = False, f"not contacted: {why}"
            d.markers.append(m)
        for d in by_url.values():
            if not d.verified:
                continue
            if not d.url:
                d.error = "the driver serves no HTTP API"
                continue
            try:
                queries = self.client(d.url).queries()
            except StopStreamingError as e:
                d.error = str(e)
                continue
            except (KeyError, TypeError, ValueError) as e:
                d.error = f"the driver's answer is not a list of queries ({type(e).__name__})"
                continue
            if isinstance(queries, list) and all(isinstance(q, dict) and "id" in q for q in queries):
                d.queries = queries
            else:
                d.error = "the driver's answer is not a list of queries"
        return list(by_url.values())

    def rows(self) -> list[dict[str, Any]]:
        """One row per query: the driver's answer where it was reachable, else the marker."""
        rows = []
        for d in self.drivers():
            if d.reachable:
                # Every query the driver knows: running ones, and those that ended lately (inactive).
                rows += [d.row(q) for q in d.queries or []]
            else:
                rows += [d.row({"id": m["id"], "name": m.get("name"), "active": None}) for m in d.markers]
        return rows

    def find(self, id_or_name: str) -> tuple[Driver, dict[str, Any]]:
        """Return the one driver and marker of a query; refuse a name that two queries have."""
        hits = [
            (d, m) for d in self.drivers() for m in d.markers if id_or_name in (m.get("id"), m.get("name"))
        ]
        # A stranger can plant a marker with any name: where a proven driver runs it, the rest are ignored.
        if any(d.verified for d, _ in hits):
            hits = [(d, m) for d, m in hits if d.verified]
        if not hits:
            raise QueryNotFoundError(f"no query '{id_or_name}' in the fleet at {self.location}")
        if len({m["id"] for _, m in hits}) > 1:
            where = ", ".join(f"{m['id']} on {d.url or d.host}" for d, m in hits)
            raise AmbiguousQueryError(
                f"{len(hits)} queries of the fleet are named '{id_or_name}' ({where}); name one by id"
            )
        return hits[0]

    def managed(self) -> list[dict[str, Any]]:
        """Every managed query of the fleet's reachable drivers, each with its driver's URL.

        A driver is found through the markers of its running queries: one whose queries are all
        paused has none, and is reached with ``--url`` instead.
        """
        rows = []
        for d in self.drivers():
            if d.reachable and d.url:
                try:
                    rows += [{"driver": d.url, **m} for m in self.client(d.url).managed()]
                except StopStreamingError:
                    continue
        return rows

    def lifecycle(self, verb: str, name: str, **params: str | None) -> dict[str, Any]:
        """``pause``, ``resume`` or ``restart`` the managed query ``name`` at the driver that manages it."""
        hits = [m for m in self.managed() if m["name"] == name]
        if not hits:
            raise QueryNotFoundError(f"no managed query '{name}' in the fleet at {self.location}")
        if len(hits) > 1:
            where = ", ".join(m["driver"] for m in hits)
            raise AmbiguousQueryError(
                f"{len(hits)} drivers of the fleet manage '{name}' ({where}); use --url"
            )
        client = self.client(hits[0]["driver"])
        view = getattr(client, verb)(name, **{k: v for k, v in params.items() if v})
        return {"driver": hits[0]["driver"], **view}

    def show(self, id_or_name: str) -> dict[str, Any]:
        """Return one query as its driver shows it (or its marker, when the driver cannot be reached)."""
        d, m = self.find(id_or_name)
        if d.reachable and d.url:
            return d.row(self.client(d.url).query(m["id"]))
        return d.row(m)

    def stop(self, id_or_name: str, **options: Any) -> dict[str, Any]:
        """Stop over HTTP at the query's driver, or with a stop file when it cannot be reached.

        ``options`` are those of ``StopStreamingClient.stop`` (``mode``, ``timeout``, ``when``,
        ``wait``), by keyword; a stop file carries all but ``wait``.
        """
        # Declared once, by the client: an unknown option fails here, before any file is written.
        inspect.signature(StopStreamingClient.stop).bind(None, id_or_name, **options)
        d, m = self.find(id_or_name)
        if d.reachable and d.url:
            return d.row(self.client(d.url).stop(m["id"], **options), via="http")
        in_file = {k: v for k, v in options.items() if v and k != "wait"}
        self._dir.write(f"{m['id']}.stop", json.dumps(in_file).encode())
        return d.row(m, via="file", file=f"{m['id']}.stop")

    def cancel(self, id_or_name: str) -> dict[str, Any]:
        """Cancel a pending stop at the query's driver (over HTTP only)."""
        d, m = self.find(id_or_name)
        if not (d.reachable and d.url):
            raise StopStreamingError(
                f"the driver of '{id_or_name}' ({d.url or d.host}) cannot be reached: {d.error}"
            )
        return d.row(self.client(d.url).cancel(m["id"]))
