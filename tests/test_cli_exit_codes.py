"""The command's exit codes: one table in the code, listed exactly by docs/cli.md, a code per error class."""

from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path

import pytest

import stopstreaming.cli as cli
from stopstreaming import errors
from stopstreaming.cli.arguments import parser
from stopstreaming.cli.exit_codes import EXIT_CODES, TABLE, exit_code_for

pytestmark = pytest.mark.tooling("reads the CLI's exit-code table and docs/cli.md; no Spark runs")

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
ROW = re.compile(r"^\| (\d+) \| `(\w+)` \| (.*?) \|(.*)\|$")
OURS = [
    c
    for _, c in inspect.getmembers(errors, inspect.isclass)
    if issubclass(c, errors.StopStreamingError) and c.__module__ == errors.__name__
]


def _documented() -> dict[int, tuple[str, str, list[str]]]:
    """The exit-code table of docs/cli.md: code -> (name, meaning, error classes named)."""
    text = DOC.read_text(encoding="utf-8").split("## Exit codes", 1)[1]
    rows = {}
    for line in text.splitlines():
        if m := ROW.match(line):
            code, name, meaning, named = m.groups()
            rows[int(code)] = (name, meaning, re.findall(r"`(\w+)`", named))
    return rows


def test_docs_list_exactly_the_table_in_the_code():
    in_code = {c.code: (c.name, c.meaning, [e.__name__ for e in c.errors]) for c in TABLE}
    assert _documented() == in_code
    assert EXIT_CODES == {c.name: c.code for c in TABLE}, "cli.EXIT_CODES is derived from the table"


@pytest.mark.parametrize("error", OURS, ids=lambda c: c.__name__)
def test_each_error_of_ours_ends_in_its_documented_code(error, monkeypatch, capsys):
    documented = {e: code for code, (_, _, named) in _documented().items() for e in named}
    # The row naming the class, or else the nearest class above it, as docs/cli.md says.
    want = next(documented[c.__name__] for c in error.__mro__ if c.__name__ in documented)
    assert exit_code_for(error("why")).code == want

    def fail(args):
        raise error("why\nforged line")

    # Through main(): every error goes through the one except, with its code and an escaped message.
    monkeypatch.setattr(cli, "_target", fail)
    assert cli.main(["list"]) == want
    err = capsys.readouterr().err
    assert err.startswith("stopstreaming: ") and err.rstrip("\n").endswith("why\\nforged line"), err


def test_the_table_has_one_row_per_code_and_name():
    assert len({c.code for c in TABLE}) == len({c.name for c in TABLE}) == len(TABLE)
    assert [c.code for c in TABLE] == sorted(c.code for c in TABLE)


def test_every_command_of_the_parser_has_one_handler():
    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == set(cli._COMMANDS)
