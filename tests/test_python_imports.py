"""The Python package has no import cycle, and its data modules import nothing but data.

The imports are read with ``ast`` from the source tree (nothing is imported, so no import runs
code), at every level: an import inside a function closes a cycle as surely as one at the top,
only later. A module's implicit import of its parent package is not an edge; an explicit
``from stopstreaming.classic import ClassicBackend`` is one, to ``stopstreaming.classic``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.tooling(
    "reads our Python sources as text; no Spark call, so no Spark line changes it"
)

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "src" / "stopstreaming"

# Modules that hold data (values, exceptions, limits, the settings table): they import no module of
# ours but one another, so everything else may import them without closing a cycle.
DATA = {
    "stopstreaming.errors",
    "stopstreaming.settings",
    "stopstreaming.durations",
    "stopstreaming.config",
}


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module under ``root`` by dotted name (a package by its own name, not ``.__init__``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``name`` imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from pkg import sub` imports the module pkg.sub; `from pkg import name` imports pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            # `import a.b.c` runs a.b.c; the closest module of ours it names is the edge.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph(root: Path, package: str) -> dict[str, set[str]]:
    mods = modules(root, package)
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return groups


def path_back(edges: dict[str, set[str]], start: str, group: list[str]) -> list[str]:
    """One import path from ``start`` back to itself inside ``group``, for the failure message."""
    seen = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(edges[v]):
            if w == start:
                return [*seen[v], start]
            if w in group and w not in seen:
                seen[w] = [*seen[v], w]
                todo.append(w)
    return group


@pytest.mark.smoke
def test_no_module_imports_one_that_imports_it_back():
    edges = graph(PACKAGE, "stopstreaming")
    assert len(edges) > 15 and "stopstreaming.jvm" in edges["stopstreaming.classic.backend"], (
        "the walk reads the package"
    )
    found = cycles(edges)
    assert not found, "import cycles:\n" + "\n".join(
        f"{', '.join(g)} (e.g. {' -> '.join(path_back(edges, g[0], g))})" for g in found
    )


def test_data_modules_import_nothing_of_ours_but_data():
    edges = graph(PACKAGE, "stopstreaming")
    assert DATA <= set(edges), f"data modules gone: {DATA - set(edges)}"
    wrong = {m: sorted(edges[m] - DATA) for m in sorted(DATA) if edges[m] - DATA}
    assert not wrong, f"data modules import behaviour: {wrong}"


def test_the_walk_finds_a_cycle_closed_inside_a_function(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .b import f\n")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import x\n    return x\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    edges = graph(pkg, "pkg")
    assert edges["pkg.a"] == {"pkg.sub.b"} and edges["pkg.sub.b"] == {"pkg.a"}, edges
    assert edges["pkg.sub"] == {"pkg.sub.b"} and edges["pkg.c"] == {"pkg.a"}, edges
    assert cycles(edges) == [["pkg.a", "pkg.sub.b"]]
    assert path_back(edges, "pkg.a", ["pkg.a", "pkg.sub.b"]) == ["pkg.a", "pkg.sub.b", "pkg.a"]


def test_one_duration_type_and_one_wait_limit():
    from stopstreaming import client, durations, settings
    from stopstreaming.errors import ConfigurationError

    assert durations.duration_text("wait", 60) == "60000ms"
    assert durations.duration_text("wait", "60s") == "60s", "text goes to the plugin as written"
    assert durations.duration_ms("wait", 60) == durations.duration_ms("wait", "60s") == 60_000
    assert durations.duration_ms("timeout", 0.5) == durations.duration_ms("timeout", "500ms") == 500
    assert durations.duration_ms("timeout", "2min") == durations.duration_ms("timeout", "2m") == 120_000
    assert durations.wait_ms(None) == 0 and durations.wait_ms("10m") == settings.MAX_WAIT_S * 1000
    assert client.MAX_WAIT_S is settings.MAX_WAIT_S, "the limit is declared once"
    for bad in (True, -1, float("nan"), [60]):
        with pytest.raises(ConfigurationError, match="wait"):
            durations.wait_ms(bad)
    with pytest.raises(ConfigurationError, match="'soon' is not a duration"):
        durations.wait_ms("soon")
    with pytest.raises(ConfigurationError, match="at most 10m"):
        durations.wait_ms(601)


def test_the_connect_backend_refuses_what_only_a_driver_can_do():
    from stopstreaming.config import RestartPolicy
    from stopstreaming.connect import ConnectBackend
    from stopstreaming.errors import UnsupportedInSparkConnectError

    class Conf:
        def get(self, key, default=None):
            return {"spark.stopstreaming.rest.url": "http://127.0.0.1:1"}.get(key, default)

    backend = ConnectBackend(type("Session", (), {"conf": Conf()})())
    backend.ensure_started()  # the server's plugin runs: nothing to start from here
    with pytest.raises(UnsupportedInSparkConnectError, match="classic PySpark driver"):
        backend.manage("q", lambda: None, RestartPolicy())
    with pytest.raises(UnsupportedInSparkConnectError, match="HOCON"):
        backend.load_config(None)
    backend._spark.conf = type("NoPlugin", (), {"get": lambda self, key, default=None: default})()
    with pytest.raises(UnsupportedInSparkConnectError, match="no stopstreaming plugin"):
        backend.ensure_started()
