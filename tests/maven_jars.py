"""Jars for the tests that run real components (a Kafka broker, Spark's Kafka source, hadoop-aws),
fetched from Maven Central by their coordinates with Maven and cached: Maven's downloads stay in
~/.m2, the resolved jar lists in ~/.cache/stopstreaming/maven/<name>/, so a second run fetches nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stopstreaming" / "maven"
CENTRAL = "https://repo1.maven.org/maven2"

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.github.stopstreaming.tests</groupId>
  <artifactId>{name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""

DEP = """    <dependency>
      <groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version>
      <exclusions>{exclusions}</exclusions>
    </dependency>"""


def fetch(name: str, coordinates: list[str], transitive: bool = True) -> list[str]:
    """The jars of ``coordinates`` (``group:artifact:version``), with their dependencies unless
    ``transitive`` is False; fetched once, then read from the cache."""
    key = hashlib.sha256(repr((coordinates, transitive)).encode()).hexdigest()[:12]
    folder = CACHE / f"{name}-{key}"
    listing = folder / "jars.txt"
    if listing.exists():
        jars = listing.read_text().split()
        if jars and all(os.path.isfile(j) for j in jars):
            return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is needed to fetch the test jars from Maven Central")
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "lib").mkdir(parents=True)
    none = "<exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion>"
    deps = "\n".join(
        DEP.format(g=g, a=a, v=v, exclusions="" if transitive else none)
        for g, a, v in (c.split(":") for c in coordinates)
    )
    (folder / "pom.xml").write_text(POM.format(name=name, deps=deps))
    subprocess.run(
        [mvn, "-B", "-q", "-Dstyle.color=never", "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={folder / 'lib'}"],
        cwd=folder, check=True, stdin=subprocess.DEVNULL, timeout=900,
    )  # fmt: skip
    jars = sorted(str(p) for p in (folder / "lib").glob("*.jar"))
    listing.write_text("\n".join(jars))
    return jars


class NoRelease(RuntimeError):
    """Maven Central has no release of an artifact for the running Spark line (yet)."""


def _published(group: str, artifact: str, version: str) -> bool:
    url = f"{CENTRAL}/{group.replace('.', '/')}/{artifact}/{version}/{artifact}-{version}.pom"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as r:
            return r.status == 200
    except OSError:
        return False


def newest_release(group: str, artifact: str, line: str, at_most: str) -> str:
    """The newest release of ``artifact`` on the ``line`` (e.g. "4.1") not above ``at_most`` (the
    running Spark): Spark's Kafka source is not published for every Spark release (none for 4.1.4).
    The answer is cached, so later runs need no network."""
    cached = CACHE / "versions" / f"{group}.{artifact}.{line}.{at_most}"
    if cached.exists():
        return cached.read_text().strip()
    url = f"{CENTRAL}/{group.replace('.', '/')}/{artifact}/maven-metadata.xml"
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode()

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split("."))

    releases = [
        v for v in re.findall(r"<version>([^<]+)</version>", text) if re.fullmatch(r"\d+\.\d+\.\d+", v)
    ]
    found = [v for v in releases if v.startswith(line + ".") and key(v) <= key(at_most)]
    # maven-metadata.xml lags behind what is published (it lacked spark-sql-kafka 4.2.0): ask for each
    # patch release of the line up to at_most that it does not list.
    for patch in range(key(at_most)[2] + 1):
        v = f"{line}.{patch}"
        if v not in found and _published(group, artifact, v):
            found.append(v)
    if not found:
        raise NoRelease(f"no release of {group}:{artifact} on the {line} line up to {at_most}")
    best = max(found, key=key)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(best)
    return best
