"""`make test-quick`: the smoke set (pytest marker `smoke`, about two minutes) plus the tests a change
touched, for a developer's loop; `make test` stays the whole thing.

A change is what differs from BASE (default HEAD: uncommitted and untracked files; BASE=origin/main
takes in your commits too). Touched tests are the test files the change edits, and the test file of
each Python module it edits (cli.py -> test_cli.py); a change to what many tests share (conftest.py,
tests/apps/, pytest.ini) touches them all. When JVM sources changed, sbt's `testQuick` runs
the Scala suites that failed last time or whose code changed.

usage: quick.py [--base REV] [--print] [pytest args...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def changed_files(base: str) -> list[str]:
    """Paths (from the repository root) that differ from ``base``, committed or not, and new files."""

    def git(*args: str) -> list[str]:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"test-quick: git {' '.join(args)} failed: {out.stderr.strip()}")
        return [line for line in out.stdout.splitlines() if line]

    # From where this branch left BASE, so that BASE's own newer commits do not count as ours.
    fork = git("merge-base", base, "HEAD")[0] if base != "HEAD" else "HEAD"
    new = git("ls-files", "--others", "--exclude-standard")
    return sorted(set(git("diff", "--name-only", fork)) | set(new))


# Shared by many test files: a change to one of these runs every test file.
_SHARED = ("tests/conftest.py", "tests/apps/", "tests/connect_app.py", "pytest.ini", "requirements-dev.txt")


def touched_tests(files: list[str]) -> list[str]:
    """The test files a change touches: edited ones, and those named after an edited module."""
    if any(f.startswith(_SHARED) for f in files):
        return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py"))
    tests = set()
    for f in files:
        p = Path(f)
        if p.parts[:1] == ("tests",) and p.name.startswith("test_") and p.suffix == ".py":
            tests.add(p)
        elif p.parts[:3] == ("python", "src", "stopstreaming") and p.suffix == ".py":
            tests.add(Path("tests") / f"test_{p.stem}.py")
            # A module of a subpackage (cli/render.py) is tested by its package's file (test_cli.py).
            if len(p.parts) > 4:
                tests.add(Path("tests") / f"test_{p.parts[3]}.py")
    return sorted(str(t) for t in tests if (ROOT / t).exists())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default=os.environ.get("BASE") or "HEAD")
    ap.add_argument("--print", action="store_true", help="only print what would run")
    args, pytest_args = ap.parse_known_args()
    files = changed_files(args.base)
    tests = touched_tests(files)
    jvm = any(f.startswith(("jvm/src/", "build.sbt", "project/")) for f in files)
    print(f"test-quick: the smoke set + {len(tests)} touched test file(s): {' '.join(tests) or '-'}")
    print(f"test-quick: Scala suites (sbt testQuick): {'yes' if jvm else 'no JVM source changed'}")
    if args.print:
        return 0
    if jvm:
        rc = subprocess.run(["./sbt", "jvm/testQuick"], cwd=ROOT, stdin=subprocess.DEVNULL).returncode
        if rc != 0:
            return rc
    env = {**os.environ, "STOPSTREAMING_QUICK_FILES": os.pathsep.join(str(ROOT / t) for t in tests)}
    cmd = [sys.executable, "-m", "pytest", "tests", "-q", "--durations=5", *pytest_args]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
