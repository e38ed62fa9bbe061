"""The ``stopstreaming`` command: list, show, stop, pause, resume and restart queries over HTTP.

``stopstreaming checkpoint PATH`` reads a checkpoint without Spark and without a driver.

Exit codes: 0 ok, 1 other error (also: not a checkpoint), 2 usage, 3 not found, 4 authentication,
5 unreachable, 6 timed out (the query still ran when ``--wait`` ran out), 7 conflict
(``--if-version`` lost, or the pending stop waited for was cancelled), 8 ambiguous (a name that
several running queries have: use the id), 9 a restart from this checkpoint re-runs a batch (its
last planned batch has no commit: the query runs, or its last run was cut).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from typing import Any

from stopstreaming.checkpoint import inspect_checkpoint
from stopstreaming.client import StopStreamingClient
from stopstreaming.errors import (
    AmbiguousQueryError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    QueryNotFoundError,
    ServerUnreachableError,
    StopStreamingError,
)
from stopstreaming.settings import DEFAULT_URL

__all__ = ["EXIT_CODES", "main"]

EXIT_CODES = {
    "ok": 0,
    "error": 1,
    "usage": 2,
    "not_found": 3,
    "auth": 4,
    "unreachable": 5,
    "timeout": 6,
    "conflict": 7,
    "ambiguous": 8,
    "rerun": 9,
}


def _global_options(p: argparse.ArgumentParser, defaults: bool) -> None:
    """Add the options every command takes, before or after the command's name."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    p.add_argument(
        "--url",
        default=default(os.environ.get("STOPSTREAMING_URL", DEFAULT_URL)),
        help=f"control server URL (env STOPSTREAMING_URL; default {DEFAULT_URL})",
    )
    # Refused with a message rather than unknown: a token on the command line is readable by every
    # user of the machine (ps, /proc, shell history).
    p.add_argument("--token", default=default(None), help=argparse.SUPPRESS)
    p.add_argument(
        "--token-file",
        default=default(os.environ.get("STOPSTREAMING_TOKEN_FILE")),
        help="file holding the bearer token (env STOPSTREAMING_TOKEN_FILE)",
    )
    p.add_argument(
        "--ca-file",
        default=default(os.environ.get("STOPSTREAMING_CA_FILE")),
        help="CA certificate (PEM) to verify an https:// server with (env STOPSTREAMING_CA_FILE)",
    )
    p.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON instead of a table"
    )
    p.add_argument("--http-timeout", type=float, default=default(30.0), help="seconds to wait for an answer")
    p.add_argument(
        "--fleet",
        default=default(os.environ.get("STOPSTREAMING_FLEET")),
        metavar="STOP_DIR",
        help="act on every driver whose markers are in this stop directory (env STOPSTREAMING_FLEET)",
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stopstreaming", description=__doc__.splitlines()[0])
    _global_options(p, defaults=True)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, defaults=False)
    sub = p.add_subparsers(dest="command", required=True)

    def command(*names: str, **kw: Any) -> argparse.ArgumentParser:
        parent = sub if len(names) == 1 else names[0]
        return parent.add_parser(names[-1], parents=[common], **kw)  # type: ignore[union-attr]

    command("list", help="list the driver's queries")
    show = command("show", help="show one query")
    show.add_argument("query", help="query id or name")
    stop = command("stop", help="stop a query (graceful by default)")
    stop.add_argument("query", help="query id or name")
    stop.add_argument("--mode", choices=["graceful", "immediate"])
    stop.add_argument("--timeout", help="escalate to immediate after this long, e.g. 5m")
    stop.add_argument("--wait", help="wait this long for the query to end, e.g. 2m")
    stop.add_argument(
        "--when",
        help="stop once: caught-up (drained), batch:<N>, in:<duration> or an ISO-8601 instant (default now)",
    )
    cancel = command("cancel", help="cancel a query's pending conditional stop")
    cancel.add_argument("query", help="query id or name")
    ckpt = command(
        "checkpoint", help="read a checkpoint: last planned and committed batch, what a restart re-runs"
    )
    ckpt.add_argument(
        "path", help="the query's checkpointLocation: a path, file:, s3a://, abfss://, gs:// ..."
    )
    command("managed", help="list the managed queries (started with manage()) and their states")
    pause = command("pause", help="pause a managed query: a graceful stop, then PAUSED until resumed")
    pause.add_argument("query", help="managed query name")
    pause.add_argument(
        "--when", help="pause once: caught-up, batch:<N>, in:<duration> or an ISO-8601 instant"
    )
    pause.add_argument("--timeout", help="escalate the stop to immediate after this long, e.g. 5m")
    pause.add_argument("--wait", help="wait this long for PAUSED, e.g. 2m")
    resume = command("resume", help="start a paused managed query again from its checkpoint")
    resume.add_argument("query", help="managed query name")
    resume.add_argument("--wait", help="wait this long for it to run again, e.g. 2m")
    restart = command(
        "restart",
        help="restart managed queries gracefully, one after the other, each once the previous runs again",
    )
    restart.add_argument("query", nargs="+", help="managed query names, in the order to restart them")
    restart.add_argument("--when", help="restart once: caught-up, batch:<N>, in:<duration> (one query only)")
    restart.add_argument("--timeout", help="escalate the stop to immediate after this long, e.g. 5m")
    restart.add_argument(
        "--wait", help="wait this long for each to run again (default 5m when several are named), e.g. 2m"
    )
    events = command("events", help="the audit trail: stops requested, refused and finished, conf changes")
    events.add_argument("--since", type=int, default=0, help="only records after this record number")
    events.add_argument("--follow", action="store_true", help="keep printing new records (Ctrl-C ends)")
    conf = command("conf", help="read and change the dynamic configuration")
    csub = conf.add_subparsers(dest="conf_command", required=True)
    command(csub, "list", help="every key and value")
    cget = command(csub, "get", help="one value")
    cget.add_argument("key")
    cset = command(csub, "set", help="set a value")
    cset.add_argument("key")
    cset.add_argument("value")
    cset.add_argument("--if-version", type=int, help="only if the key is at this version (0: only if unset)")
    cunset = command(csub, "unset", help="remove a value")
    cunset.add_argument("key")
    cunset.add_argument("--if-version", type=int, help="only if the key is at this version")
    return p


def _row(q: dict[str, Any]) -> list[str]:
    stop = q.get("stop") or {}
    progress = q.get("lastProgress") or {}
    status = (q.get("status") or {}).get("message", "")
    return [
        q["id"],
        q.get("name") or "-",
        "yes" if q.get("active") else "no",
        str(progress.get("batchId", "-")),
        status if q.get("active") else ("failed" if q.get("exception") else "ended"),
        _stop_text(stop),
    ]


def _stop_text(stop: dict[str, Any]) -> str:
    if not stop:
        return "-"
    if stop.get("state") == "PENDING":
        return f"PENDING (when {stop.get('when')}, {stop['source']})"
    return f"{stop['state']} ({stop['mode']}, {stop['source']})"


def _fleet_row(q: dict[str, Any]) -> list[str]:
    where = q.get("driver") or q.get("driverHost") or "-"
    if not q.get("reachable"):
        why = " (unverified)" if q.get("verified") is False else " (unreachable)"
        return [where + why, q["id"], q.get("name") or "-", "?", "-", q.get("error") or "", "-"]
    return [where, *_row(q)]


# Control characters, line separators and bidirectional overrides: what could forge a line or move
# the cursor when a name or a value that came from a driver (or a stranger's marker) is printed.
# Control characters, bidirectional overrides, and lone surrogates (which a terminal cannot print).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _safe(text: Any) -> str:
    r"""``text`` fit for a terminal: every unsafe character shown as an escape such as ``\n``."""
    s = str(text)
    return (
        _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), s)
        if _UNSAFE.search(s)
        else s
    )


def _table(rows: list[list[str]]) -> str:
    rows = [[_safe(c) for c in r] for r in rows]
    header = ["ID", "NAME", "ACTIVE", "BATCH", "STATUS", "STOP"]
    if rows and len(rows[0]) == len(header) + 1:
        header = ["DRIVER", *header]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])


def _print(args: argparse.Namespace, data: Any, rows: list[list[str]]) -> None:
    print(json.dumps(data, indent=2) if args.json else _table(rows))


def _conf(args: argparse.Namespace, client: StopStreamingClient) -> int:
    if args.conf_command == "list":
        data = client.conf_list()
        rows = [[_safe(k), str(v["version"]), _safe(v["value"])] for k, v in sorted(data["entries"].items())]
        print(json.dumps(data, indent=2) if args.json else _conf_table(rows, data["version"]))
        return EXIT_CODES["ok"]
    if args.conf_command == "get":
        entry = client.conf_get(args.key)
    elif args.conf_command == "set":
        entry = client.conf_set(args.key, args.value, if_version=args.if_version)
    else:
        entry = client.conf_unset(args.key, if_version=args.if_version)
    # A value piped into a script is printed as it is; on a terminal it is escaped like every other text.
    value = _safe(entry["value"]) if sys.stdout.isatty() else entry["value"]
    print(json.dumps(entry, indent=2) if args.json else value)
    return EXIT_CODES["ok"]


def _checkpoint(args: argparse.Namespace) -> int:
    report = inspect_checkpoint(args.path)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
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
            rows.append(
                ["re-run from offsets", json.dumps([s["offset"] for s in rerun["fromOffsets"] or []])]
            )
            rows.append(["re-run to offsets", json.dumps([s["offset"] for s in rerun["toOffsets"]])])
        else:
            rows.append(["source offsets", json.dumps([s["offset"] for s in report["sources"]])])
        for op in report["stateOperators"]:
            what = f"{op.get('name') or 'stateful operator'}, {op['partitions']} partitions"
            rows.append(
                [f"state operator {op['id']}", what + (f", {op['provider']}" if op["provider"] else "")]
            )
        last = report.get("lastRun")
        if last:
            rows.append(["last run", _last_run_line(last)])
        rows.extend(["warning", w] for w in report["warnings"])
        print("\n".join(f"{_safe(k) + ':':<22} {_safe(v)}" for k, v in rows))
    return EXIT_CODES["ok"] if report["clean"] else EXIT_CODES["rerun"]


def _last_run_line(last: dict[str, Any]) -> str:
    """One line: how the last run ended, and the record's own word when the checkpoint says otherwise."""
    how, by = last["howItEnded"], last["endedBy"]
    said = f"{by} stop ({last.get('source') or '?'}) at {last['at']}"
    if how == "cut":
        return f"cut: a batch was left uncommitted (the plugin's record: {said})"
    if how == "unknown":
        return f"unknown: a later run ended without the plugin (its record: {said})"
    return f"{how} (by {last.get('source') or '?'} at {last['at']}, last commit {last['lastCommittedBatch']})"


def _managed_row(m: dict[str, Any]) -> list[str]:
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


def _managed_table(rows: list[dict[str, Any]]) -> str:
    cells = [["NAME", "STATE", "RUNS", "FAILURES", "QUERY ID", "LAST ERROR"]] + [
        [_safe(c) for c in _managed_row(m)] for m in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def _lifecycle(args: argparse.Namespace, client: Any) -> int:
    """pause, resume and restart of managed queries; exit 6 when --wait ran out short of the state."""
    if args.command == "managed":
        data = client.managed()
        print(json.dumps({"managed": data}, indent=2) if args.json else _managed_table(data))
        return EXIT_CODES["ok"]
    from stopstreaming.fleet import Fleet

    def act(verb: str, name: str, **params: str | None) -> dict[str, Any]:
        if isinstance(client, Fleet):
            return client.lifecycle(verb, name, **params)
        return dict(getattr(client, verb)(name, **params))

    if args.command == "pause":
        views = [act("pause", args.query, when=args.when, timeout=args.timeout, wait=args.wait)]
        wanted = {"PAUSED"}
    elif args.command == "resume":
        views = [act("resume", args.query, wait=args.wait)]
        wanted = {"RUNNING"}
    else:
        names = args.query
        if len(names) > 1 and args.when:
            raise ConfigurationError("--when restarts one query; name a single query with it")
        wait = args.wait or ("5m" if len(names) > 1 else None)
        views = []
        for name in names:
            view = act("restart", name, when=args.when, timeout=args.timeout, wait=wait)
            views.append(view)
            if wait and view["state"] != "RUNNING":
                break  # the next one waits for this one to run again
        wanted = {"RUNNING"}
    print(json.dumps(views if len(views) > 1 else views[0], indent=2) if args.json else _managed_table(views))
    wait = getattr(args, "wait", None) or (args.command == "restart" and len(args.query) > 1)
    late = [v for v in views if v["state"] not in wanted]
    if wait and late:
        v = late[0]
        print(f"stopstreaming: {_safe(v['name'])} is {v['state']} after --wait", file=sys.stderr)
        return (
            EXIT_CODES["error"] if v["state"] in ("FAILED", "STOPPED", "BACKOFF") else EXIT_CODES["timeout"]
        )
    return EXIT_CODES["ok"]


def _event_line(e: dict[str, Any]) -> str:
    who = e.get("client") or "driver"
    what = e.get("queryName") or e.get("queryId") or e["options"].get("key", "-")
    took = f" in {e['durationMs']}ms" if e.get("durationMs") is not None else ""
    head = f"{e['seq']:>6}  {e['time']}  {e['kind']:<15} {e['source']:<8}"
    return _safe(f"{head} {what}  {e['outcome']}{took}  ({who})")


def _events(args: argparse.Namespace, client: StopStreamingClient) -> int:
    since = args.since
    while True:
        for e in client.events(since):
            print(json.dumps(e) if args.json else _event_line(e), flush=True)
            since = max(since, int(e["seq"]))
        if not args.follow:
            return EXIT_CODES["ok"]
        try:
            time.sleep(1.0)
        except KeyboardInterrupt:
            return EXIT_CODES["ok"]


def _conf_table(rows: list[list[str]], version: int) -> str:
    header = ["KEY", "VERSION", "VALUE"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    lines = [f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2]}" for r in [header, *rows]]
    return "\n".join([*lines, f"(store version {version})"])


def _token(args: argparse.Namespace) -> str | None:
    """--token-file (or STOPSTREAMING_TOKEN_FILE), else STOPSTREAMING_TOKEN; never the command line."""
    if args.token:
        raise ConfigurationError(
            "--token is refused: a token on the command line is visible to every user of this machine "
            "(ps, shell history); put it in STOPSTREAMING_TOKEN or a file named by --token-file"
        )
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise ConfigurationError(f"cannot read --token-file {args.token_file}: {e.strerror}") from None
        if not token:
            raise ConfigurationError(f"--token-file {args.token_file} is empty")
        return token
    return os.environ.get("STOPSTREAMING_TOKEN") or None


def _fleet(args: argparse.Namespace) -> int:
    """list, show, stop and cancel across every driver of a shared stop directory."""
    from stopstreaming.fleet import Fleet

    if args.command not in ("list", "show", "stop", "cancel", "managed", "pause", "resume", "restart"):
        raise ConfigurationError(
            "--fleet works with list, show, stop, cancel, managed, pause, resume and restart, "
            f"not {args.command}"
        )
    fleet = Fleet(args.fleet, _token(args), timeout=args.http_timeout, ca_file=args.ca_file)
    if args.command in ("managed", "pause", "resume", "restart"):
        return _lifecycle(args, fleet)
    if args.command == "list":
        rows = fleet.rows()
        _print(args, {"queries": rows}, [_fleet_row(q) for q in rows])
        return EXIT_CODES["ok"]
    if args.command == "show":
        q = fleet.show(args.query)
    elif args.command == "cancel":
        q = fleet.cancel(args.query)
    else:
        q = fleet.stop(args.query, mode=args.mode, timeout=args.timeout, when=args.when, wait=args.wait)
        if q.get("via") == "file":
            print(
                _safe(
                    f"stopstreaming: {q.get('driver') or q.get('driverHost')} cannot be reached over HTTP; "
                    f"wrote {args.fleet}/{q['file']}"
                ),
                file=sys.stderr,
            )
    _print(args, q, [_fleet_row(q)])
    if args.command == "stop" and args.wait and q.get("active"):
        return _still_running(args, q)
    return EXIT_CODES["ok"]


def _still_running(args: argparse.Namespace, q: dict[str, Any]) -> int:
    """Say why a ``stop --wait`` was answered while the query still runs; return the exit code."""
    if not q.get("stop"):
        # The server answers a waiter as soon as the conditional stop it waited for is cancelled.
        query = _safe(args.query)
        print(f"stopstreaming: the pending stop of {query} was cancelled during --wait", file=sys.stderr)
        return EXIT_CODES["conflict"]
    print(f"stopstreaming: {_safe(args.query)} still runs after --wait {args.wait}", file=sys.stderr)
    return EXIT_CODES["timeout"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "checkpoint":
            return _checkpoint(args)
        if args.fleet:
            return _fleet(args)
        client = StopStreamingClient(args.url, _token(args), timeout=args.http_timeout, ca_file=args.ca_file)
        if args.command == "list":
            qs = client.queries()
            _print(args, {"queries": qs}, [_row(q) for q in qs])
        elif args.command == "show":
            q = client.query(args.query)
            _print(args, q, [_row(q)])
        elif args.command == "conf":
            return _conf(args, client)
        elif args.command == "events":
            return _events(args, client)
        elif args.command in ("managed", "pause", "resume", "restart"):
            return _lifecycle(args, client)
        elif args.command == "cancel":
            q = client.cancel(args.query)
            _print(args, q, [_row(q)])
        else:
            q = client.stop(args.query, mode=args.mode, timeout=args.timeout, wait=args.wait, when=args.when)
            _print(args, q, [_row(q)])
            if args.wait and q.get("active"):
                return _still_running(args, q)
        return EXIT_CODES["ok"]
    except ConflictError as e:
        print(f"stopstreaming: conflict: {_safe(e)}", file=sys.stderr)
        return EXIT_CODES["conflict"]
    except AmbiguousQueryError as e:
        print(f"stopstreaming: ambiguous: {_safe(e)}", file=sys.stderr)
        return EXIT_CODES["ambiguous"]
    except QueryNotFoundError as e:
        print(f"stopstreaming: not found: {_safe(e)}", file=sys.stderr)
        return EXIT_CODES["not_found"]
    except AuthenticationError as e:
        print(f"stopstreaming: authentication failed: {_safe(e)}", file=sys.stderr)
        return EXIT_CODES["auth"]
    except ServerUnreachableError as e:
        print(f"stopstreaming: unreachable: {_safe(e)}", file=sys.stderr)
        return EXIT_CODES["unreachable"]
    except ConfigurationError as e:
        print(f"stopstreaming: {_safe(e)}", file=sys.stderr)
        return EXIT_CODES["usage"]
    except StopStreamingError as e:
        print(f"stopstreaming: {_safe(e)}", file=sys.stderr)
        return EXIT_CODES["error"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
