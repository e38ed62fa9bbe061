"""The command's arguments: its commands, their options, and the options every command takes."""

from __future__ import annotations

import argparse
import os
from typing import Any

from stopstreaming.settings import DEFAULT_URL

__all__ = ["DESCRIPTION", "parser"]

DESCRIPTION = "The ``stopstreaming`` command: list, show, stop, pause, resume and restart queries over HTTP."


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


def parser() -> argparse.ArgumentParser:
    """Return the parser of the command line: every command, its options, and the common ones."""
    p = argparse.ArgumentParser(prog="stopstreaming", description=DESCRIPTION)
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
