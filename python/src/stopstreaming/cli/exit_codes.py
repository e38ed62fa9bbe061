"""The command's exit codes: one table, each code with its meaning and the exceptions that end in it."""

from __future__ import annotations

from dataclasses import dataclass

from stopstreaming.errors import (
    AmbiguousQueryError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    QueryNotFoundError,
    ServerUnreachableError,
    StopStreamingError,
)

__all__ = ["EXIT_CODES", "TABLE", "ExitCode", "exit_code_for"]


@dataclass(frozen=True)
class ExitCode:
    """One exit code: its number, its name in the code, what it means and what raises it."""

    code: int
    name: str
    meaning: str
    errors: tuple[type[StopStreamingError], ...] = ()
    label: str = ""  # what the message on stderr says before the error's own text


# docs/cli.md lists this table; tests/test_cli_exit_codes.py checks that it lists exactly this.
TABLE: tuple[ExitCode, ...] = (
    ExitCode(0, "ok", "done (a stop without `--wait` is done once the driver accepted it)"),
    ExitCode(
        1,
        "error",
        "any other error: the server refused the request, a folder that is not a checkpoint, "
        "a managed query FAILED, STOPPED or in BACKOFF after `--wait`",
        (StopStreamingError,),
    ),
    ExitCode(
        2,
        "usage",
        "usage: an unknown option or value, `--token` on the command line, an unreadable `--token-file`, "
        "a command `--fleet` does not take",
        (ConfigurationError,),
    ),
    ExitCode(
        3,
        "not_found",
        "no query (or managed query, or key) has that id or name",
        (QueryNotFoundError,),
        "not found",
    ),
    ExitCode(
        4,
        "auth",
        "the server refused the token (or none was given)",
        (AuthenticationError,),
        "authentication failed",
    ),
    ExitCode(
        5, "unreachable", "the control server could not be reached", (ServerUnreachableError,), "unreachable"
    ),
    ExitCode(
        6, "timeout", "timed out: the query still ran (or had not reached its state) when `--wait` ran out"
    ),
    ExitCode(
        7,
        "conflict",
        "conflict: `--if-version` lost, `cancel` with nothing pending, or the pending stop a "
        "`--when ... --wait` waited for was cancelled",
        (ConflictError,),
        "conflict",
    ),
    ExitCode(
        8,
        "ambiguous",
        "ambiguous: a name that several running queries (or fleet drivers) have: use the id (or `--url`)",
        (AmbiguousQueryError,),
        "ambiguous",
    ),
    ExitCode(
        9,
        "rerun",
        "`checkpoint`: a restart from this checkpoint re-runs a batch (its last planned batch has no commit)",
    ),
)

EXIT_CODES: dict[str, int] = {c.name: c.code for c in TABLE}


def exit_code_for(error: StopStreamingError) -> ExitCode:
    """Return the exit code of an error: that of its most specific class in the table."""
    for cls in type(error).__mro__:
        for code in TABLE:
            if cls in code.errors:
                return code
    raise TypeError(f"{type(error).__name__} is not an error of stopstreaming")  # pragma: no cover
