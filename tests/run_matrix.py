"""`make test-matrix`: the pytest suite against several PySpark versions, each in its own virtualenv
under .venv-matrix/, then a table version -> passed / failed / skipped / left to the default line.

Each line runs the tests that can fail on it: those marked `transport`, `tooling` or `components`
(see tests/conftest.py) run once, on the default line (`make test`), and each line prints how many
it left there and why. The next line's virtualenv is installed while a line's tests run.

usage: run_matrix.py [--python python3] VERSION [VERSION ...]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


# PySpark 3.5's Spark Connect client needs NumPy 1.x, which current pyarrow and pandas do not take.
EXTRA = {"3.": ["pyarrow<17", "pandas<2.3", "numpy<2"]}


def prepare(python: str, version: str) -> Path:
    """The virtualenv of ``version``, made once (a download and an unpack, little CPU)."""
    venv = ROOT / ".venv-matrix" / version
    py = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        quiet = {"stdout": subprocess.DEVNULL}
        run([python, "-m", "venv", "--clear", str(venv)])
        run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], **quiet)
        extra = next((pins for prefix, pins in EXTRA.items() if version.startswith(prefix)), [])
        req = str(ROOT / "requirements-dev.txt")
        run(
            [str(py), "-m", "pip", "install", "-q", f"pyspark[connect]=={version}", *extra, "-r", req],
            **quiet,
        )
        (venv / ".ready").touch()
    return py


def one(py: Path, version: str, workers: int) -> dict:
    venv = py.parent.parent
    wheel = sorted(glob.glob(str(ROOT / "python" / "dist" / "stopstreaming-*-py3-none-any.whl")))[-1]
    run([str(py), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", wheel])
    report, split_report = venv / "junit.xml", venv / "split.json"
    # A run that dies before it collects must not be read from the previous run's files.
    report.unlink(missing_ok=True)
    split_report.unlink(missing_ok=True)
    t0 = time.time()
    env = {
        **os.environ,
        "STOPSTREAMING_MATRIX_LINE": version,
        "STOPSTREAMING_SPLIT_REPORT": str(split_report),
    }
    cmd = [str(py), "-m", "pytest", str(ROOT / "tests"), "-q", f"--junitxml={report}", "--durations=10"]
    if workers:
        cmd += ["-n", str(workers), "--dist", "loadfile"]
    rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    if report.exists():
        suite = ET.parse(report).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        total = int(suite.get("tests", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        counts = {"passed": total - failed - skipped, "failed": failed, "skipped": skipped}
    left = json.loads(split_report.read_text())["default_line"] if split_report.exists() else []
    return {
        "version": version,
        **counts,
        "left": len(left),
        "exit": rc,
        "minutes": round((time.time() - t0) / 60, 1),
        "left_tests": left,
    }


def print_left(rows: list[dict]) -> None:
    """What every line left to the default line, grouped by its reason (the same on every line)."""
    if not rows or not rows[0]["left_tests"]:
        return
    by_reason: dict[tuple[str, str], list[str]] = {}
    for t in rows[0]["left_tests"]:
        by_reason.setdefault((t["marker"], t["reason"]), []).append(t["test"])
    print("\nLeft to the default line (make test), by reason:")
    for (marker, reason), tests in sorted(by_reason.items()):
        files = sorted({t.split("::")[0] for t in tests})
        print(f"  {marker:<10} {len(tests):>3}  {reason}  [{', '.join(f.split('/')[-1] for f in files)}]")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--workers", type=int, default=2, help="pytest-xdist workers per line (0: serial)")
    ap.add_argument("versions", nargs="+")
    args = ap.parse_args()
    rows = []
    with ThreadPoolExecutor(1) as installer:
        ready = [installer.submit(prepare, args.python, v) for v in args.versions]
        for version, venv in zip(args.versions, ready):
            try:
                py = venv.result()
            except (subprocess.CalledProcessError, OSError) as e:
                print(f"PySpark {version}: its virtualenv could not be installed: {e}", flush=True)
                rows.append({"version": version, "passed": 0, "failed": 0, "skipped": 0, "left": 0,
                             "exit": "install", "minutes": 0, "left_tests": []})  # fmt: skip
                continue
            rows.append(one(py, version, args.workers))
    print("\nPySpark   passed  failed  skipped  left  minutes  exit")
    for r in rows:
        cells = (r["passed"], r["failed"], r["skipped"], r["left"], r["minutes"], r["exit"])
        print(f"{r['version']:<9} " + "  ".join(f"{c:>{w}}" for c, w in zip(cells, (6, 6, 7, 4, 7, 4))))
    print_left(rows)
    (ROOT / ".venv-matrix" / "results.json").write_text(json.dumps(rows, indent=2))
    return 0 if all(r["failed"] == 0 and r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
