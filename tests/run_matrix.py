"""`make test-matrix`: the whole pytest suite against several PySpark versions, each in its own
virtualenv under .venv-matrix/, then a table version -> passed / failed / skipped.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


# PySpark 3.5's Spark Connect client needs NumPy 1.x, which current pyarrow and pandas do not take.
EXTRA = {"3.": ["pyarrow<17", "pandas<2.3", "numpy<2"]}


def one(python: str, version: str) -> dict:
    venv = ROOT / ".venv-matrix" / version
    py = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        run([python, "-m", "venv", "--clear", str(venv)])
        run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        extra = next((pins for prefix, pins in EXTRA.items() if version.startswith(prefix)), [])
        req = str(ROOT / "requirements-dev.txt")
        run([str(py), "-m", "pip", "install", "-q", f"pyspark[connect]=={version}", *extra, "-r", req])
        (venv / ".ready").touch()
    wheel = sorted(glob.glob(str(ROOT / "python" / "dist" / "stopstreaming-*-py3-none-any.whl")))[-1]
    run([str(py), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", wheel])
    report = venv / "junit.xml"
    t0 = time.time()
    # One image per Spark line would add minutes per version to CI's 90: the container tests
    # (tests/test_docker.py) run on the default line only, in `make test`.
    env = {
        **os.environ,
        "STOPSTREAMING_SKIP_DOCKER": "the Docker tests run on the default Spark line only (make test)",
    }
    rc = subprocess.run(
        [
            str(py),
            "-m",
            "pytest",
            str(ROOT / "tests"),
            "-q",
            f"--junitxml={report}",
            "-p",
            "no:cacheprovider",
            "--durations=10",
            # Real brokers and object stores, with jars of one Spark line: `make test` runs them
            # on the default line only.
            "-m",
            "not heavy",
        ],
        cwd=ROOT,
        env=env,
    ).returncode
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    if report.exists():
        suite = ET.parse(report).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        total = int(suite.get("tests", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        counts = {"passed": total - failed - skipped, "failed": failed, "skipped": skipped}
    return {"version": version, **counts, "exit": rc, "minutes": round((time.time() - t0) / 60, 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("versions", nargs="+")
    args = ap.parse_args()
    rows = [one(args.python, v) for v in args.versions]
    print("\nPySpark   passed  failed  skipped  minutes")
    for r in rows:
        print(f"{r['version']:<9} {r['passed']:>6}  {r['failed']:>6}  {r['skipped']:>7}  {r['minutes']:>7}")
    (ROOT / ".venv-matrix" / "results.json").write_text(json.dumps(rows, indent=2))
    return 0 if all(r["failed"] == 0 and r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
