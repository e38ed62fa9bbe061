"""Writing bench/results/latest.json and printing each figure beside the previous run's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import ROOT

RESULTS = ROOT / "bench" / "results" / "latest.json"


def commit() -> str | None:
    """The commit the figures were measured on (with '+' when the tree had changes), for the side-by-side."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "jvm", "python"], cwd=ROOT,
                               capture_output=True, text=True)  # fmt: skip
        return head.stdout.strip() + ("+" if dirty.stdout.strip() else "") if head.returncode == 0 else None
    except OSError:
        return None


def report(out: dict, path: Path) -> None:
    """Writes the figures and prints each beside the previous run's (kept as previous.json), so a change's
    effect is read side by side: the previous run is the tree before the change when it was run there."""
    out.setdefault("commit", commit())
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    if previous:
        (path.parent / "previous.json").write_text(json.dumps(previous, indent=2))
    path.write_text(json.dumps(out, indent=2))
    width = max(len(k) for k in out)
    since = f"{previous.get('commit')}, {previous.get('timestamp')}"
    print(f"{'figure'.ljust(width)}  now  |  previous run ({since})")
    for k, v in out.items():
        was = f"  |  {json.dumps(previous[k])}" if k in previous and previous[k] != v else ""
        print(f"{k.ljust(width)}  {json.dumps(v)}{was}")
    print(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
