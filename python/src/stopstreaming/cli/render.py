"""How the command prints answers on a terminal: one table renderer, and the cells and lines it fills."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "FLEET_HEADER",
    "MANAGED_HEADER",
    "QUERY_HEADER",
    "checkpoint_text",
    "conf_table",
    "event_line",
    "fleet_cells",
    "managed_cells",
    "query_cells",
    "safe",
    "table",
]

QUERY_HEADER = ("ID", "NAME", "ACTIVE", "BATCH", "STATUS", "STOP")
FLEET_HEADER = ("DRIVER", *QUERY_HEADER)
MANAGED_HEADER = ("NAME", "STATE", "RUNS", "FAILURES", "QUERY ID", "LAST ERROR")
CONF_HEADER = ("KEY", "VERSION", "VALUE")

# Control characters, line separators and bidirectional overrides: what could forge a line or move
# the cursor when a name or a value that came from a driver (or a stranger's marker) is printed;
# lone surrogates too, which a terminal cannot print.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def safe(text: Any) -> str:
    r"""``text`` fit for a terminal: every unsafe character shown as an escape such as ``\n``."""
    s = str(text)
    return (
        _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), s)
        if _UNSAFE.search(s)
        else s
    )


def table(header: tuple[str, ...], rows: list[list[str]]) -> str:
    """Columns two spaces apart, each as wide as its widest cell; every cell made safe, no trailing blanks."""
    cells = [list(header), *([safe(c) for c in r] for r in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths)), r[-1]]).rstrip() for r in cells)


def query_cells(q: dict[str, Any]) -> list[str]:
    """Return the cells of a query as a driver shows it, under ``QUERY_HEADER``."""
    progress = q.get("lastProgress") or {}
    status = (q.get("status") or {}).get("message", "")
    return [
        q["id"],
        q.get("name") or "-",
        "yes" if q.get("active") else "no",
        str(progress.get("batchId", "-")),
        status if q.get("active") else ("failed" if q.get("exception") else "ended"),
        _stop_text(q.get("stop") or {}),
    ]


def _stop_text(stop: dict[str, Any]) -> str:
    if not stop:
        return "-"
    if stop.get("state") == "PENDING":
        return f"PENDING (when {stop.get('when')}, {stop['source']})"
    return f"{stop['state']} ({stop['mode']}, {stop['source']})"


def fleet_cells(q: dict[str, Any]) -> list[str]:
    """Return the cells of a fleet's row (``FLEET_HEADER``): the driver's view, or its marker's."""
    where = q.get("driver") or q.get("driverHost") or "-"
    if not q.get("reachable"):
        why = " (unverified)" if q.get("verified") is False else " (unreachable)"
        return [where + why, q["id"], q.get("name") or "-", "?", "-", q.get("error") or "", "-"]
    return [where, *query_cells(q)]


def managed_cells(m: dict[str, Any]) -> list[str]:
    """Return the cells of a managed query, under ``MANAGED_HEADER``."""
    state = m["state"]
    if state == "BACKOFF" and m.get("nextAttemptAt"):
        state += f" (next {m['nextAttemptAt']})"
    return [
        m["name"],
        state,
        str(m.get("runs", 0)),
        str(m.get("failures", 0)),
        m.get("queryId") or "-",
        (m.get("lastError") or "-").splitlines()[0][:80],
    ]


def conf_table(data: dict[str, Any]) -> str:
    """Render the dynamic configuration: one key a line, then the store's version."""
    rows = [[k, str(v["version"]), v["value"]] for k, v in sorted(data["entries"].items())]
    return f"{table(CONF_HEADER, rows)}\n(store version {data['version']})"


def event_line(e: dict[str, Any]) -> str:
    """Render one audit record on one line."""
    who = e.get("client") or "driver"
    what = e.get("queryName") or e.get("queryId") or e["options"].get("key", "-")
    took = f" in {e['durationMs']}ms" if e.get("durationMs") is not None else ""
    head = f"{e['seq']:>6}  {e['time']}  {e['kind']:<15} {e['source']:<8}"
    return safe(f"{head} {what}  {e['outcome']}{took}  ({who})")


def checkpoint_text(report: dict[str, Any]) -> str:
    """Render a checkpoint report as ``label: value`` lines."""
    rerun = report["restartReruns"]
    rows = [
        ["query id", str(report["queryId"])],
        ["last planned batch", str(report["lastPlannedBatch"])],
        ["last committed batch", str(report["lastCommittedBatch"])],
        [
            "a restart",
            f"re-runs batch {rerun['batch']}" if rerun else f"starts at batch {report['nextBatch']}",
        ],
        ["watermark", report["watermark"]],
    ]
    if rerun:
        rows.append(["re-run from offsets", json.dumps([s["offset"] for s in rerun["fromOffsets"] or []])])
        rows.append(["re-run to offsets", json.dumps([s["offset"] for s in rerun["toOffsets"]])])
    else:
        rows.append(["source offsets", json.dumps([s["offset"] for s in report["sources"]])])
    for op in report["stateOperators"]:
        what = f"{op.get('name') or 'stateful operator'}, {op['partitions']} partitions"
        rows.append([f"state operator {op['id']}", what + (f", {op['provider']}" if op["provider"] else "")])
    last = report.get("lastRun")
    if last:
        rows.append(["last run", _last_run_line(last)])
    rows.extend(["warning", w] for w in report["warnings"])
    return "\n".join(f"{safe(k) + ':':<22} {safe(v)}" for k, v in rows)


def _last_run_line(last: dict[str, Any]) -> str:
    """One line: how the last run ended, and the record's own word when the checkpoint says otherwise."""
    how, by = last["howItEnded"], last["endedBy"]
    said = f"{by} stop ({last.get('source') or '?'}) at {last['at']}"
    if how == "cut":
        return f"cut: a batch was left uncommitted (the plugin's record: {said})"
    if how == "unknown":
        return f"unknown: a later run ended without the plugin (its record: {said})"
    return f"{how} (by {last.get('source') or '?'} at {last['at']}, last commit {last['lastCommittedBatch']})"
