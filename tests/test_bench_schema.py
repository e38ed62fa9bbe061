"""Every key `make bench` writes to bench/results/latest.json is documented in docs/benchmarks.md, and
every key documented there is written: the keys are read from the bench sources (assignments to
`out["key"]`, `out.update(key=...)`, `out.setdefault("key", ...)`), the docs from its tables."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.tooling("reads bench/ sources and docs/benchmarks.md; no Spark runs")

ROOT = Path(__file__).resolve().parents[1]
# fuzz_http.py writes its own file (fuzz.json, `make robustness`), not the bench results.
SOURCES = sorted(p for p in (ROOT / "bench").glob("*.py") if p.name != "fuzz_http.py")
DOC = ROOT / "docs" / "benchmarks.md"
ROW_KEY = re.compile(r"^\|\s*`([\w.<>-]+)`\s*\|")


def _is_out(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "out"


def written_keys() -> dict[str, str]:
    """Each top-level results key the bench code writes, with the file that writes it."""
    keys: dict[str, str] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            found: list[str] = []
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for sub in ast.walk(t):
                        if isinstance(sub, ast.Subscript) and _is_out(sub.value):
                            assert isinstance(sub.slice, ast.Constant), (
                                f"{path.name}: out[...] needs a literal key"
                            )
                            found.append(sub.slice.value)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _is_out(node.func.value)
            ):
                if node.func.attr == "update":
                    found += [k.arg for k in node.keywords if k.arg]
                    for arg in node.args:
                        assert isinstance(arg, ast.Dict), f"{path.name}: out.update() needs literal keys"
                        found += [k.value for k in arg.keys if isinstance(k, ast.Constant)]
                elif node.func.attr == "setdefault":
                    found.append(node.args[0].value)
            for key in found:
                keys.setdefault(key, path.name)
    return keys


def documented_keys() -> set[str]:
    """The first column of every table row in docs/benchmarks.md that names a key (`key` or `key.field`)."""
    keys = set()
    in_code = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = ROW_KEY.match(line)
        if m and not in_code and not m.group(1).endswith(".py"):
            keys.add(m.group(1))
    return keys


def test_the_sources_are_read() -> None:
    keys = written_keys()
    # A guard against a reader that silently finds nothing: figures of several families.
    assert {"batch_overhead_ratio", "health_rps", "stateful_stops", "port_ready", "commit"} <= set(keys)


def test_every_written_key_is_documented() -> None:
    top = {k.split(".")[0] for k in documented_keys()}
    missing = {k: f for k, f in written_keys().items() if k not in top}
    assert not missing, f"keys written by bench/ but not in docs/benchmarks.md: {missing}"


def test_every_documented_key_is_written() -> None:
    written = set(written_keys())
    stale = sorted(k for k in documented_keys() if k.split(".")[0] not in written)
    assert not stale, f"keys in docs/benchmarks.md that no bench code writes: {stale}"


def test_every_field_row_belongs_to_a_documented_key() -> None:
    documented = documented_keys()
    orphans = sorted(k for k in documented if "." in k and k.split(".")[0] not in documented)
    assert not orphans, f"field rows without a row for their key: {orphans}"
