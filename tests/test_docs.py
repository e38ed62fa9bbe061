"""The README is a newcomer's path; the rest is in docs/. Every link between them must lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.tooling("reads the README and docs/; no Spark runs")

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _prose(page: Path) -> list[str]:
    """The page's lines outside code blocks."""
    lines, in_code = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code:
            lines.append(line)
    return lines


def _anchors(page: Path) -> set[str]:
    return {_slug(m.group(1)) for ln in _prose(page) if (m := re.match(r"#{1,6} (.*)", ln))}


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"README.md has {lines} lines; move details to docs/"


def test_every_relative_link_and_anchor_exists():
    broken = []
    for page in PAGES:
        for line in _prose(page):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                    continue
                path, _, anchor = target.partition("#")
                dest = (page.parent / path).resolve() if path else page
                if not dest.exists():
                    broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
                elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                    broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_reachable_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    unlinked = [p.name for p in PAGES[1:] if f"(docs/{p.name}" not in readme]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


# Where a user may read a setting's name: messages, Scaladoc, docs, deployment files, examples.
NAMED_IN = ["python/src", "jvm/src/main", "docker", "examples", *(str(p.relative_to(ROOT)) for p in PAGES)]
# A setting name as written; the look-behind skips Scala packages (`org.apache.spark.stopstreaming.ui`).
SETTING_NAME = re.compile(r"(?<![\w.])spark\.stopstreaming\.([A-Za-z0-9_.*<>]+)")
# Set by the plugin for others to read, not by a user: StopStreamingDriverPlugin.UrlKey.
PUBLISHED = {"rest.url"}


def _settings_table() -> set[str]:
    """The keys of docs/configuration.md's table (SettingsTableSuite checks it against Settings.scala)."""
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([^`]+)` \|", page, re.MULTILINE))


def _texts():
    for name in NAMED_IN:
        top = ROOT / name
        for f in [top] if top.is_file() else sorted(top.rglob("*")):
            skipped = {"target", "jars", "__pycache__"}.intersection(f.relative_to(ROOT).parts)
            if f.is_file() and not skipped:
                try:
                    yield f, f.read_text(encoding="utf-8")
                except UnicodeDecodeError:  # a binary file holds no message
                    continue


def _known(name: str, table: set[str]) -> bool:
    if name in table or name in PUBLISHED:
        return True
    if name == "*" or name.endswith(".*"):  # all of them, or a family: `restart.*`
        return any(k.startswith(name[:-1]) for k in table)
    # `conf.<key>` is the family of initial dynamic values; `conf.file` and `conf.maxBytes` are in the table.
    return "conf.<key>" in table and name.startswith("conf.") and name not in ("conf.", "conf.*")


def test_every_setting_named_in_a_message_or_doc_exists():
    table = _settings_table()
    assert {"rest.port", "auth.token", "conf.<key>"} <= table, "the settings table was not found"
    unknown, seen = [], 0
    for f, text in _texts():
        for line_no, line in enumerate(text.splitlines(), 1):
            for m in SETTING_NAME.finditer(line):
                name = m.group(1).rstrip(".")
                seen += 1
                if name and not _known(name, table):
                    unknown.append(f"{f.relative_to(ROOT)}:{line_no}: spark.stopstreaming.{name}")
    assert seen > 20, f"only {seen} setting names found: are the paths right?"
    assert not unknown, "names no setting has:\n" + "\n".join(unknown)
