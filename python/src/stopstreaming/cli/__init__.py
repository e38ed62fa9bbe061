"""The ``stopstreaming`` command: list, show, stop, pause, resume and restart queries over HTTP.

``stopstreaming checkpoint PATH`` reads a checkpoint without Spark and without a driver. Every
command, its output and its exit codes (the table in ``exit_codes``) are in docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable, NamedTuple

from stopstreaming.checkpoint import inspect_checkpoint
from stopstreaming.cli.arguments import parser
from stopstreaming.cli.exit_codes import EXIT_CODES, exit_code_for
from stopstreaming.cli.render import (
    FLEET_HEADER,
    MANAGED_HEADER,
    QUERY_HEADER,
    checkpoint_text,
    conf_table,
    event_line,
    fleet_cells,
    managed_cells,
    query_cells,
    safe,
    table,
)
from stopstreaming.client import StopStreamingClient
from stopstreaming.errors import ConfigurationError, StopStreamingError
from stopstreaming.fleet import Fleet

__all__ = ["EXIT_CODES", "main"]

OK = EXIT_CODES["ok"]


class _Driver:
    """One driver over HTTP, answering the verbs a ``Fleet`` answers: one dispatch serves both."""

    def __init__(self, client: StopStreamingClient) -> None:
        self.client = client

    def rows(self) -> list[dict[str, Any]]:
        return self.client.queries()

    def show(self, id_or_name: str) -> dict[str, Any]:
        return self.client.query(id_or_name)

    def stop(self, id_or_name: str, **options: str | None) -> dict[str, Any]:
        return self.client.stop(id_or_name, **options)

    def cancel(self, id_or_name: str) -> dict[str, Any]:
        return self.client.cancel(id_or_name)

    def managed(self) -> list[dict[str, Any]]:
        return self.client.managed()

    def lifecycle(self, verb: str, name: str, **params: str | None) -> dict[str, Any]:
        return dict(getattr(self.client, verb)(name, **params))


Target = Any  # _Driver | Fleet | None (checkpoint needs neither)


def _print_queries(
    args: argparse.Namespace, target: Target, data: Any, queries: list[dict[str, Any]]
) -> None:
    if args.json:
        print(json.dumps(data, indent=2))
    elif isinstance(target, Fleet):
        print(table(FLEET_HEADER, [fleet_cells(q) for q in queries]))
    else:
        print(table(QUERY_HEADER, [query_cells(q) for q in queries]))


def _list(args: argparse.Namespace, target: Target) -> int:
    rows = target.rows()
    _print_queries(args, target, {"queries": rows}, rows)
    return OK


def _show(args: argparse.Namespace, target: Target) -> int:
    q = target.show(args.query)
    _print_queries(args, target, q, [q])
    return OK


def _cancel(args: argparse.Namespace, target: Target) -> int:
    q = target.cancel(args.query)
    _print_queries(args, target, q, [q])
    return OK


def _stop(args: argparse.Namespace, target: Target) -> int:
    q = target.stop(args.query, mode=args.mode, timeout=args.timeout, when=args.when, wait=args.wait)
    if q.get("via") == "file":
        where = q.get("driver") or q.get("driverHost")
        print(
            safe(f"stopstreaming: {where} cannot be reached over HTTP; wrote {args.fleet}/{q['file']}"),
            file=sys.stderr,
        )
    _print_queries(args, target, q, [q])
    if not (args.wait and q.get("active")):
        return OK
    if not q.get("stop"):
        # The server answers a waiter as soon as the conditional stop it waited for is cancelled.
        print(
            f"stopstreaming: the pending stop of {safe(args.query)} was cancelled during --wait",
            file=sys.stderr,
        )
        return EXIT_CODES["conflict"]
    print(f"stopstreaming: {safe(args.query)} still runs after --wait {args.wait}", file=sys.stderr)
    return EXIT_CODES["timeout"]


def _print_managed(args: argparse.Namespace, data: Any, views: list[dict[str, Any]]) -> None:
    print(
        json.dumps(data, indent=2) if args.json else table(MANAGED_HEADER, [managed_cells(m) for m in views])
    )


def _managed(args: argparse.Namespace, target: Target) -> int:
    data = target.managed()
    _print_managed(args, {"managed": data}, data)
    return OK


def _lifecycle(args: argparse.Namespace, target: Target) -> int:
    """pause, resume and restart of managed queries; exit 6 when --wait ran out short of the state."""
    if args.command == "pause":
        views = [target.lifecycle("pause", args.query, when=args.when, timeout=args.timeout, wait=args.wait)]
        wanted = "PAUSED"
    elif args.command == "resume":
        views = [target.lifecycle("resume", args.query, wait=args.wait)]
        wanted = "RUNNING"
    else:
        names = args.query
        if len(names) > 1 and args.when:
            raise ConfigurationError("--when restarts one query; name a single query with it")
        wait = args.wait or ("5m" if len(names) > 1 else None)
        views = []
        for name in names:
            views.append(target.lifecycle("restart", name, when=args.when, timeout=args.timeout, wait=wait))
            if wait and views[-1]["state"] != "RUNNING":
                break  # the next one waits for this one to run again
        wanted = "RUNNING"
    _print_managed(args, views if len(views) > 1 else views[0], views)
    late = [v for v in views if v["state"] != wanted]
    if not ((args.wait or (args.command == "restart" and len(args.query) > 1)) and late):
        return OK
    v = late[0]
    print(f"stopstreaming: {safe(v['name'])} is {v['state']} after --wait", file=sys.stderr)
    return EXIT_CODES["error"] if v["state"] in ("FAILED", "STOPPED", "BACKOFF") else EXIT_CODES["timeout"]


def _conf(args: argparse.Namespace, target: Target) -> int:
    client = target.client
    if args.conf_command == "list":
        data = client.conf_list()
        print(json.dumps(data, indent=2) if args.json else conf_table(data))
        return OK
    if args.conf_command == "get":
        entry = client.conf_get(args.key)
    elif args.conf_command == "set":
        entry = client.conf_set(args.key, args.value, if_version=args.if_version)
    else:
        entry = client.conf_unset(args.key, if_version=args.if_version)
    # A value piped into a script is printed as it is; on a terminal it is escaped like every other text.
    value = safe(entry["value"]) if sys.stdout.isatty() else entry["value"]
    print(json.dumps(entry, indent=2) if args.json else value)
    return OK


def _events(args: argparse.Namespace, target: Target) -> int:
    since = args.since
    while True:
        for e in target.client.events(since):
            print(json.dumps(e) if args.json else event_line(e), flush=True)
            since = max(since, int(e["seq"]))
        if not args.follow:
            return OK
        try:
            time.sleep(1.0)
        except KeyboardInterrupt:
            return OK


def _checkpoint(args: argparse.Namespace, target: Target) -> int:
    report = inspect_checkpoint(args.path)
    print(json.dumps(report, indent=2) if args.json else checkpoint_text(report))
    return OK if report["clean"] else EXIT_CODES["rerun"]


class _Command(NamedTuple):
    run: Callable[[argparse.Namespace, Target], int]
    fleet: bool  # whether --fleet may name every driver of a stop directory as the target


# The one dispatch: every command's handler, for a driver at --url and a fleet alike.
_COMMANDS: dict[str, _Command] = {
    "list": _Command(_list, fleet=True),
    "show": _Command(_show, fleet=True),
    "stop": _Command(_stop, fleet=True),
    "cancel": _Command(_cancel, fleet=True),
    "managed": _Command(_managed, fleet=True),
    "pause": _Command(_lifecycle, fleet=True),
    "resume": _Command(_lifecycle, fleet=True),
    "restart": _Command(_lifecycle, fleet=True),
    "conf": _Command(_conf, fleet=False),
    "events": _Command(_events, fleet=False),
    "checkpoint": _Command(_checkpoint, fleet=False),
}


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


def _target(args: argparse.Namespace) -> Target:
    """Return what the command acts on: the driver at --url, every driver of --fleet, or none."""
    if args.command == "checkpoint":
        return None  # read from storage: no driver, so no token either
    if not args.fleet:
        return _Driver(
            StopStreamingClient(args.url, _token(args), timeout=args.http_timeout, ca_file=args.ca_file)
        )
    if not _COMMANDS[args.command].fleet:
        works = [name for name, c in _COMMANDS.items() if c.fleet]
        raise ConfigurationError(
            f"--fleet works with {', '.join(works[:-1])} and {works[-1]}, not {args.command}"
        )
    return Fleet(args.fleet, _token(args), timeout=args.http_timeout, ca_file=args.ca_file)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = parser().parse_args(argv)
    try:
        return _COMMANDS[args.command].run(args, _target(args))
    except StopStreamingError as e:
        code = exit_code_for(e)
        print(f"stopstreaming: {code.label + ': ' if code.label else ''}{safe(e)}", file=sys.stderr)
        return code.code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
