"""No wait in the tests (or the driver apps they start) without a bound: a stop that never comes must
fail its test in seconds with a message, not hang until CI's limit. Use ``conftest.ended(query)``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
UNBOUNDED = {"awaitTermination", "awaitAnyTermination"}


def bare_waits(source: str, filename: str) -> list[str]:
    """``file:line`` of each ``x.awaitTermination()`` or ``x.awaitAnyTermination()`` without a timeout."""
    return [
        f"{filename}:{node.lineno}"
        for node in ast.walk(ast.parse(source, filename))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in UNBOUNDED
        and not node.args
        and not node.keywords
    ]


@pytest.mark.tooling("reads the test sources with ast; makes no Spark call")
def test_no_wait_on_a_query_without_a_timeout() -> None:
    found = [
        hit
        for path in sorted(TESTS.rglob("*.py"))
        for hit in bare_waits(path.read_text(encoding="utf-8"), str(path.relative_to(TESTS.parent)))
    ]
    assert not found, "unbounded waits (use conftest.ended(query, timeout)):\n" + "\n".join(found)


@pytest.mark.tooling("reads the test sources with ast; makes no Spark call")
def test_the_scan_sees_a_bare_wait_and_lets_a_bounded_one_pass() -> None:
    source = "q.awaitTermination()\nq.awaitTermination(60)\nspark.streams.awaitAnyTermination()\n"
    assert bare_waits(source, "x.py") == ["x.py:1", "x.py:3"]
