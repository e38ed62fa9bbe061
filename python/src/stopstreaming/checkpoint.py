"""Read a streaming query's checkpoint without Spark: what a restart from it will run.

Spark writes ``offsets/N`` when it plans batch N and ``commits/N`` once batch N's sink wrote it. On a
restart, an uncommitted last offsets entry is run again over exactly the source range it planned
(``offsets/N-1`` to ``offsets/N``); when the last entry is committed, the next batch starts where it
ended. So a checkpoint is *clean* (a restart re-runs nothing) when its last planned batch is its last
committed one. A graceful stop leaves it clean; a cut batch (``query.stop()`` in mid-batch, a killed
driver) leaves it one ahead. A running query's checkpoint is usually one ahead too: its batch in
flight.

Local paths are read directly; object store URLs (``s3://``, ``s3a://``, ``abfss://``, ``gs://``)
through fsspec and its backend, as the fleet reads them (``pip install 'stopstreaming[fleet-s3]'``).
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from stopstreaming.errors import CheckpointError, ConfigurationError
from stopstreaming.storage import open_directory

__all__ = ["inspect_checkpoint"]

_BATCH = re.compile(r"^[0-9]+$")
# Spark 4.2+ may write an offsets entry whose source lines carry their source's id: "<id>:<json>".
_KEYED_SOURCE = re.compile(r"^([A-Za-z0-9_.-]+):(.*)$", re.S)
# The largest log file we read; Spark's entries are a few kilobytes.
_MAX_ENTRY = 16 * 1024 * 1024


def inspect_checkpoint(path: str) -> dict[str, Any]:
    """Describe the checkpoint at ``path``: what a restart from it will run.

    The report holds its query id, last planned and committed batches, whether a restart re-runs a
    batch and over which source offsets, the watermark, the sources and the state operators.

    Raises ``CheckpointError`` when ``path`` does not exist or is not a streaming checkpoint.
    """
    try:
        root = open_directory(path, what="checkpoint")
    except ConfigurationError as e:
        raise CheckpointError(str(e)) from None
    top = _names(root, "", path)
    if top is None:
        raise CheckpointError(f"{path} does not exist")
    if "offsets" not in top and "metadata" not in top:
        raise CheckpointError(
            f"{path} is not a streaming checkpoint: it has neither a metadata file nor an offsets/ folder"
        )
    query_id = None
    if "metadata" in top:
        meta = _json_line(_read(root, "metadata"), f"{path}/metadata")
        query_id = meta.get("id") if isinstance(meta, dict) else None

    planned = _batches(root, "offsets") if "offsets" in top else []
    committed = _batches(root, "commits") if "commits" in top else []
    last_planned = planned[-1] if planned else None
    last_committed = committed[-1] if committed else None

    report: dict[str, Any] = {
        "path": path,
        "queryId": query_id,
        "lastPlannedBatch": last_planned,
        "lastCommittedBatch": last_committed,
        "batchesKept": len(planned),
    }
    if last_planned is None:
        report.update(state="new", clean=True, restartReruns=None, nextBatch=0, sources=[], watermarkMs=0)
        report["watermark"] = _iso(0)
        report["stateOperators"] = _state_operators(root, top, {})
        return report

    entry = _offsets(root, last_planned, path)
    commit = _commit(root, last_committed, path) if last_committed is not None else None
    if last_committed is not None and last_committed > last_planned:
        raise CheckpointError(
            f"{path}: commits/{last_committed} is ahead of offsets/{last_planned}; the checkpoint was edited"
        )
    clean = last_committed == last_planned
    if clean:
        # The next batch starts where the last committed one ended, with the watermark it left.
        watermark = commit.get("nextBatchWatermarkMs", entry["batchWatermarkMs"]) if commit else 0
        reruns = None
        state = "clean"
    else:
        watermark = entry["batchWatermarkMs"]
        start = (
            _offsets(root, last_planned - 1, path)["sources"] if last_planned - 1 in set(planned) else None
        )
        reruns = {
            "batch": last_planned,
            "fromOffsets": start,
            "toOffsets": entry["sources"],
            "why": f"offsets/{last_planned} is planned and has no commit: a restart runs it again",
        }
        state = "rerun"
    report.update(
        state=state,
        clean=clean,
        restartReruns=reruns,
        nextBatch=last_planned + 1 if clean else last_planned,
        watermarkMs=watermark,
        watermark=_iso(watermark),
        batchTimestampMs=entry["batchTimestampMs"],
        offsetsFormat=entry["format"],
        commitsFormat=commit.get("format") if commit else None,
        sources=entry["sources"],
        conf=entry["conf"],
        stateOperators=_state_operators(root, top, entry["conf"]),
    )
    return report


def _names(root: Any, sub: str, path: str) -> list[str] | None:
    try:
        return root.names(sub)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CheckpointError(f"cannot list {path}/{sub}: {e}") from None


def _read(root: Any, name: str) -> str:
    try:
        data = root.read(name, _MAX_ENTRY)
    except OSError as e:
        raise CheckpointError(f"cannot read {name}: {e}") from None
    if data is None:
        raise CheckpointError(f"{name} is gone or is not a regular file")
    return data.decode("utf-8", errors="replace")


def _json_line(text: str, where: str) -> Any:
    try:
        return json.loads(text.strip().splitlines()[0]) if text.strip() else {}
    except (ValueError, IndexError):
        raise CheckpointError(f"{where} is not what Spark writes (not JSON)") from None


def _batches(root: Any, log: str) -> list[int]:
    """Return a metadata log's batch ids in order, Spark's hidden files (``.N.crc``, temp files) aside."""
    return sorted(int(n) for n in (root.names(log) or []) if _BATCH.match(n))


def _version(line: str, log: str, where: str) -> str:
    if not re.fullmatch(r"v[0-9]+", line.strip()):
        raise CheckpointError(
            f"{where} does not start with the version line of an entry of {log}/ (v1, v2, ...)"
        )
    return line.strip()


def _offsets(root: Any, batch: int, path: str) -> dict[str, Any]:
    where = f"{path}/offsets/{batch}"
    lines = _read(root, f"offsets/{batch}").split("\n")
    fmt = _version(lines[0], "offsets", where)
    if len(lines) < 2:
        raise CheckpointError(f"{where} is truncated")
    try:
        meta = json.loads(lines[1]) if lines[1].strip() else {}
    except ValueError:
        raise CheckpointError(f"{where}: its metadata line is not JSON") from None
    sources = []
    for i, line in enumerate(lines[2:]):
        if not line.strip():
            continue
        source: dict[str, Any] = {"index": i}
        keyed = _KEYED_SOURCE.match(line) if not line.lstrip().startswith(("{", "[", "-")) else None
        if keyed:
            source["id"], line = keyed.group(1), keyed.group(2)
        if line.strip() == "-":
            source["offset"] = None  # this source had no offset yet
        else:
            try:
                source["offset"] = json.loads(line)
            except ValueError:
                source["offset"] = line  # a source's own serialisation: shown as written
        sources.append(source)
    return {
        "format": fmt,
        "batchWatermarkMs": int(meta.get("batchWatermarkMs", 0) or 0),
        "batchTimestampMs": int(meta.get("batchTimestampMs", 0) or 0),
        "conf": meta.get("conf") or {},
        "sources": sources,
    }


def _commit(root: Any, batch: int, path: str) -> dict[str, Any]:
    where = f"{path}/commits/{batch}"
    lines = _read(root, f"commits/{batch}").split("\n")
    fmt = _version(lines[0], "commits", where)
    body = lines[1] if len(lines) > 1 else ""
    try:
        meta = json.loads(body) if body.strip() else {}
    except ValueError:
        raise CheckpointError(f"{where}: its metadata line is not JSON") from None
    return {"format": fmt, **meta}


def _state_operators(root: Any, top: list[str], conf: dict[str, str]) -> list[dict[str, Any]]:
    """Each stateful operator's folder under state/: its partitions, and its name where Spark 4 wrote it."""
    if "state" not in top:
        return []
    provider = conf.get("spark.sql.streaming.stateStore.providerClass")
    ops = []
    for op in sorted((n for n in root.names("state") if _BATCH.match(n)), key=int):
        names = root.names(f"state/{op}") or []
        info: dict[str, Any] = {
            "id": int(op),
            "partitions": sum(1 for n in names if _BATCH.match(n)),
            "provider": provider.rsplit(".", 1)[-1] if provider else None,
        }
        if "_metadata" in names:
            info.update(_operator_metadata(root, f"state/{op}/_metadata"))
        ops.append(info)
    return ops


def _operator_metadata(root: Any, folder: str) -> dict[str, Any]:
    """Spark 4's state/<op>/_metadata/metadata: ``v1`` (or ``v2``) then the operator's JSON."""
    try:
        names = root.names(folder) or []
        if "metadata" not in names:
            return {}
        lines = _read(root, f"{folder}/metadata").split("\n")
        meta = json.loads(lines[1]) if len(lines) > 1 and lines[1].strip() else {}
    except (OSError, ValueError, CheckpointError):
        return {}
    op = meta.get("operatorInfo") or {}
    stores = meta.get("stateStoreInfo") or []
    out: dict[str, Any] = {}
    if op.get("operatorName"):
        out["name"] = op["operatorName"]
    if stores:
        out["stores"] = [s.get("storeName") for s in stores if isinstance(s, dict)]
    return out


def _iso(ms: int) -> str:
    return (
        datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
