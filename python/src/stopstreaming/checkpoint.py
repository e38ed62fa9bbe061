"""Read a streaming query's checkpoint without Spark: what a restart from it will run.

Spark writes ``offsets/N`` when it plans batch N and ``commits/N`` once batch N's sink wrote it. On a
restart, an uncommitted last offsets entry is run again over exactly the source range it planned
(``offsets/N-1`` to ``offsets/N``); when the last entry is committed, the next batch starts where it
ended. So a checkpoint is *clean* (a restart re-runs nothing) when its last planned batch is its last
committed one. A graceful stop leaves it clean; a cut batch (``query.stop()`` in mid-batch, a killed
driver) leaves it one ahead. A running query's checkpoint is usually one ahead too: its batch in
flight. Spark refuses to restart when ``offsets/N-1`` is missing for the last batch N > 0; so does
this reader (``CheckpointError``).

When the stopstreaming plugin ended the query's last run (a stop, a drain, a pause), it left
``_stopstreaming/last-run.json`` beside the logs; the report's ``lastRun`` is that record and what it
means for the checkpoint as it is now (``howItEnded``).

Local paths are read directly; object store URLs (``s3://``, ``s3a://``, ``abfss://``, ``gs://``)
through fsspec and its backend, as the fleet reads them (``pip install 'stopstreaming[fleet-s3]'``).
"""

from __future__ import annotations

import datetime
import json
import math
import re
from typing import Any

from stopstreaming.errors import CheckpointError, ConfigurationError
from stopstreaming.storage import open_directory

__all__ = ["inspect_checkpoint"]

# A batch file's name is a batch id as Spark writes it: digits, no sign, no leading zero.
_BATCH = re.compile(r"0|[1-9][0-9]{0,18}")
# Under the "v2" version line (Spark 4.2+) each source line carries its source's id: "<id>:<offset>".
_KEYED_SOURCE = re.compile(r"([A-Za-z0-9_.-]+):(.*)", re.S)
# The largest log file read; Spark's entries are a few kilobytes. A larger one is refused, not cut.
_MAX_ENTRY = 16 * 1024 * 1024
# How a run that our plugin ended can have ended (the record's "endedBy"); core/LastRun.scala names the same.
_ENDINGS = ("graceful", "drained", "paused", "immediate", "escalated", "failed", "unflushed")
# Where the plugin leaves its record of the last run, under the checkpoint root.
_LAST_RUN = "_stopstreaming/last-run.json"
# Event times a watermark can hold and still be a date (year 1 to 9999).
_MIN_MS, _MAX_MS = -62135596800000, 253402300799999


def inspect_checkpoint(path: str) -> dict[str, Any]:
    """Describe the checkpoint at ``path``: what a restart from it will run.

    The report holds its query id, last planned and committed batches, whether a restart re-runs a
    batch and over which source offsets, the watermark, the sources and the state operators.

    Raises ``CheckpointError`` when ``path`` does not exist, is not a streaming checkpoint, or is one
    Spark would refuse to restart from.
    """
    try:
        root = open_directory(path, what="checkpoint")
    except ConfigurationError as e:
        raise CheckpointError(str(e)) from None
    try:
        return _inspect(root, path)
    except RecursionError:
        raise CheckpointError(f"{path}: a log entry nests too deep to be Spark's") from None


def _inspect(root: Any, path: str) -> dict[str, Any]:
    top = _list(root, "", path, files_only=False)
    if top is None:
        raise CheckpointError(f"{path} does not exist")
    if "offsets" not in top and "metadata" not in top:
        raise CheckpointError(
            f"{path} is not a streaming checkpoint: it has neither a metadata file nor an offsets/ folder"
        )
    query_id = None
    if "metadata" in top:
        meta = _json(_read(root, "metadata", path).strip().split("\n")[0], f"{path}/metadata")
        query_id = meta.get("id") if isinstance(meta.get("id"), str) else None

    planned = _batches(root, "offsets", path) if "offsets" in top else []
    committed = _batches(root, "commits", path) if "commits" in top else []
    last_planned = planned[-1] if planned else None
    last_committed = committed[-1] if committed else None
    report: dict[str, Any] = {
        "path": path,
        "queryId": query_id,
        "lastPlannedBatch": last_planned,
        "lastCommittedBatch": last_committed,
        "batchesKept": len(planned),
        "warnings": [],
    }
    record = _last_run(root, top, path, report["warnings"])
    if last_planned is None:
        report.update(state="new", clean=True, restartReruns=None, nextBatch=0, sources=[])
        report.update(watermarkMs=0, watermark=_iso(0), stateOperators=_state_operators(root, top, {}, path))
        report["lastRun"] = _judge(record, report)
        return report
    if last_committed is not None and last_committed > last_planned:
        raise CheckpointError(
            f"{path}: commits/{last_committed} is ahead of offsets/{last_planned}; the checkpoint was edited"
        )
    previous = last_planned - 1
    if last_planned > 0 and previous not in set(planned):
        # Spark's restart reads offsets/N-1 to know where batch N+1 (or the re-run of N) starts.
        raise CheckpointError(
            f"{path}: offsets/{previous} is missing beside offsets/{last_planned}; Spark refuses to restart "
            f"from this checkpoint (batch {previous} doesn't exist)"
        )

    entry = _offsets(root, last_planned, path)
    commit = _commit(root, last_committed, path) if last_committed is not None else None
    clean = last_committed == last_planned
    if clean:
        # The restart's watermark: the higher of the planned one and the one the commit left.
        watermark = max(entry["batchWatermarkMs"], commit["nextBatchWatermarkMs"] if commit else 0)
        reruns, state = None, "clean"
    else:
        watermark = entry["batchWatermarkMs"]
        start = _offsets(root, previous, path)["sources"] if last_planned > 0 else None
        reruns = {
            "batch": last_planned,
            "fromOffsets": start,
            "toOffsets": entry["sources"],
            "why": f"offsets/{last_planned} is planned and has no commit: a restart runs it again",
        }
        state = "rerun"
        if last_committed is not None and last_committed < previous:
            report["warnings"].append(
                f"batches {last_committed + 1} to {previous} were planned and never committed; a restart "
                f"re-runs only batch {last_planned}, so a sink that did not write them never will"
            )
    report.update(
        state=state,
        clean=clean,
        restartReruns=reruns,
        nextBatch=last_planned + 1 if clean else last_planned,
        watermarkMs=watermark,
        watermark=_iso(watermark),
        batchTimestampMs=entry["batchTimestampMs"],
        offsetsFormat=entry["format"],
        commitsFormat=commit["format"] if commit else None,
        sources=entry["sources"],
        conf=entry["conf"],
        stateOperators=_state_operators(root, top, entry["conf"], path),
    )
    report["lastRun"] = _judge(record, report)
    return report


def _last_run(root: Any, top: list[str], path: str, warnings: list[str]) -> dict[str, Any] | None:
    """Read the plugin's record of how it ended the last run; None when there is none.

    A record that cannot be read or is not one of ours is a warning, never an error: it is a help, and
    the checkpoint is what counts.
    """
    folder, name = _LAST_RUN.split("/")
    if folder not in top:
        return None
    try:
        if name not in (_list(root, folder, path, files_only=True) or []):
            return None
        text = _read(root, _LAST_RUN, path)
    except CheckpointError as e:
        warnings.append(f"{path}/{_LAST_RUN} could not be read ({e})")
        return None
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        record = None
    why = _record_problem(record)
    if why:
        warnings.append(f"{path}/{_LAST_RUN} is not a record of ours ({why}); ignored")
        return None
    return record


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    if not isinstance(record.get("queryId"), str):
        return "'queryId' is not a string"
    if record.get("endedBy") not in _ENDINGS:
        return f"'endedBy' is not one of {', '.join(_ENDINGS)}"
    if not isinstance(record.get("at"), str):
        return "'at' is not a string"
    batch = record.get("lastCommittedBatch")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 0):
        return "'lastCommittedBatch' is not a batch id"
    return None


def _judge(record: dict[str, Any] | None, report: dict[str, Any]) -> dict[str, Any] | None:
    """Return the record plus ``howItEnded``.

    ``cut`` when a batch is planned and not committed (whatever the record says); the record's
    ``endedBy`` when it describes the checkpoint as it is (the same last commit); ``unknown`` when the
    checkpoint moved on since (a later run ended without the plugin).
    """
    if record is None:
        return None
    committed, mine = report["lastCommittedBatch"], record.get("lastCommittedBatch")
    if report["queryId"] is not None and record["queryId"] != report["queryId"]:
        report["warnings"].append(
            f"the last-run record is of query {record['queryId']}, "
            f"not of this checkpoint's {report['queryId']}"
        )
        how = "unknown"
    elif not report["clean"]:
        how = "cut"
    elif mine == committed:
        how = record["endedBy"]
    else:
        how = "unknown"
        if mine is not None and (committed is None or mine > committed):
            report["warnings"].append(
                f"the last-run record names batch {mine} as committed, beyond this checkpoint's last commit "
                f"({'none' if committed is None else committed}): the checkpoint was edited or replaced"
            )
    return {**record, "howItEnded": how}


def _list(root: Any, sub: str, path: str, files_only: bool) -> list[str] | None:
    """List the folder (its regular files only, if asked); None when it does not exist."""
    try:
        return root.files(sub) if files_only else root.names(sub)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise CheckpointError(f"{path}/{sub} is a file where Spark keeps a folder") from None
    except OSError as e:
        raise CheckpointError(f"cannot list {path}/{sub}: {e}") from None
    except Exception as e:  # noqa: BLE001 - an object store's client has errors of its own (credentials)
        raise CheckpointError(f"cannot list {path}/{sub}: {type(e).__name__}: {e}") from None


def _read(root: Any, name: str, path: str) -> str:
    try:
        data = root.read(name, _MAX_ENTRY + 1)
    except OSError as e:
        raise CheckpointError(f"cannot read {path}/{name}: {e}") from None
    except Exception as e:  # noqa: BLE001 - an object store's client has errors of its own
        raise CheckpointError(f"cannot read {path}/{name}: {type(e).__name__}: {e}") from None
    if data is None:
        raise CheckpointError(f"{path}/{name} is gone or is not a regular file")
    if len(data) > _MAX_ENTRY:
        raise CheckpointError(
            f"{path}/{name} is over {_MAX_ENTRY // (1024 * 1024)} MiB: not a Spark log entry"
        )
    return data.decode("utf-8", errors="replace")


def _json(text: str, where: str) -> dict[str, Any]:
    """Parse a JSON object ({} for an empty line); anything else is not what Spark writes."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise CheckpointError(f"{where} is not what Spark writes (not JSON)") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{where} is not what Spark writes (not a JSON object)")
    return value


def _ms(value: Any, where: str) -> int:
    """Check a watermark or timestamp in milliseconds, as Spark writes them; 0 when absent."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CheckpointError(f"{where}: {value!r} is not a time in milliseconds")
    if not _MIN_MS <= value <= _MAX_MS:
        raise CheckpointError(f"{where}: {value} milliseconds is outside the years 1 to 9999")
    return int(value)


def _batches(root: Any, log: str, path: str) -> list[int]:
    """Return a metadata log's batch ids in order, as Spark lists them.

    Its regular files named by a batch id count; its hidden ``.N.crc`` and temp files, and anything
    else, do not.
    """
    names = _list(root, log, path, files_only=True) or []
    return sorted(int(n) for n in names if _BATCH.fullmatch(n))


def _version(line: str, log: str, where: str) -> str:
    if not re.fullmatch(r"v[0-9]{1,3}", line.strip()):
        raise CheckpointError(
            f"{where} does not start with the version line of an entry of {log}/ (v1, v2, ...)"
        )
    return line.strip()


def _offsets(root: Any, batch: int, path: str) -> dict[str, Any]:
    where = f"{path}/offsets/{batch}"
    lines = _read(root, f"offsets/{batch}", path).split("\n")
    fmt = _version(lines[0], "offsets", where)
    if len(lines) < 2:
        raise CheckpointError(f"{where} is truncated")
    meta = _json(lines[1], f"{where} (its metadata line)")
    conf = meta.get("conf") or {}
    if not isinstance(conf, dict):
        raise CheckpointError(f"{where}: its conf is not a JSON object")
    sources = []
    for i, line in enumerate(lines[2:]):
        if not line.strip():
            continue
        source: dict[str, Any] = {"index": i}
        keyed = _KEYED_SOURCE.fullmatch(line) if fmt != "v1" else None
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
        "batchWatermarkMs": _ms(meta.get("batchWatermarkMs"), f"{where} batchWatermarkMs"),
        "batchTimestampMs": _ms(meta.get("batchTimestampMs"), f"{where} batchTimestampMs"),
        "conf": {str(k): v for k, v in conf.items()},
        "sources": sources,
    }


def _commit(root: Any, batch: int, path: str) -> dict[str, Any]:
    where = f"{path}/commits/{batch}"
    lines = _read(root, f"commits/{batch}", path).split("\n")
    fmt = _version(lines[0], "commits", where)
    meta = _json(lines[1] if len(lines) > 1 else "", where)
    return {
        "format": fmt,
        "nextBatchWatermarkMs": _ms(meta.get("nextBatchWatermarkMs"), f"{where} nextBatchWatermarkMs"),
    }


def _state_operators(root: Any, top: list[str], conf: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """Each stateful operator's folder under state/: its partitions, and its name where Spark 4 wrote it."""
    if "state" not in top:
        return []
    provider = conf.get("spark.sql.streaming.stateStore.providerClass")
    ops = []
    for op in sorted(
        (n for n in (_list(root, "state", path, files_only=False) or []) if _BATCH.fullmatch(n)), key=int
    ):
        names = _list(root, f"state/{op}", path, files_only=False) or []
        info: dict[str, Any] = {
            "id": int(op),
            "partitions": sum(1 for n in names if _BATCH.fullmatch(n)),
            "provider": provider.rsplit(".", 1)[-1] if isinstance(provider, str) else None,
        }
        if "_metadata" in names:
            info.update(_operator_metadata(root, f"state/{op}/_metadata", path))
        ops.append(info)
    return ops


def _operator_metadata(root: Any, folder: str, path: str) -> dict[str, Any]:
    """Read Spark 4's state/<op>/_metadata/metadata: a version line, then the operator's JSON.

    Best effort: a name is a help, so an entry that cannot be read leaves it out rather than failing
    the report.
    """
    try:
        if "metadata" not in (_list(root, folder, path, files_only=True) or []):
            return {}
        lines = _read(root, f"{folder}/metadata", path).split("\n")
        meta = _json(lines[1] if len(lines) > 1 else "", f"{path}/{folder}/metadata")
    except CheckpointError:
        return {}
    op = meta.get("operatorInfo") if isinstance(meta.get("operatorInfo"), dict) else {}
    stores = meta.get("stateStoreInfo") if isinstance(meta.get("stateStoreInfo"), list) else []
    out: dict[str, Any] = {}
    if isinstance(op.get("operatorName"), str):
        out["name"] = op["operatorName"]
    names = [
        s.get("storeName") for s in stores if isinstance(s, dict) and isinstance(s.get("storeName"), str)
    ]
    if names:
        out["stores"] = names
    return out


def _iso(ms: int) -> str:
    return (
        (datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(milliseconds=ms))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
