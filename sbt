#!/usr/bin/env bash
# Boots sbt without a pre-installed sbt: the launcher is fetched from Maven by its
# coordinates (the version pinned in project/build.properties), cached under ~/.sbt,
# and every artifact sbt resolves comes from the repositories in project/repositories.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(sed -n 's/^sbt\.version *= *//p' "$root/project/build.properties" | tr -d '[:space:]')"
[ -n "$version" ] || { echo "sbt: no sbt.version in project/build.properties" >&2; exit 2; }

# Pinned so that it runs on Maven 3.8.
dependency_plugin="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
launcher_dir="$HOME/.sbt/launchers/$version"
launcher="$launcher_dir/sbt-launch-$version.jar"

if [ ! -s "$launcher" ]; then
  command -v mvn >/dev/null || { echo "sbt: Maven (mvn) is needed to fetch the sbt launcher" >&2; exit 2; }
  command -v java >/dev/null || { echo "sbt: a Java 17+ runtime is needed" >&2; exit 2; }
  echo "sbt: fetching org.scala-sbt:sbt-launch:$version through Maven" >&2
  mkdir -p "$launcher_dir"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && mvn -q -B "$dependency_plugin:copy" \
      -Dartifact="org.scala-sbt:sbt-launch:$version" \
      -DoutputDirectory="$tmp/out" >&2)
  mv "$tmp/out/sbt-launch-$version.jar" "$launcher"
fi

# `./sbt --launcher-only` stops here: `make setup` uses it to fetch the launcher ahead of time.
if [ "${1:-}" = "--launcher-only" ]; then
  echo "$launcher"
  exit 0
fi

# The committed file names the 'maven-central' alias only. When Maven's own settings
# route Central through a mirror, sbt must use that mirror too, so it is read from
# those settings at run time and written to a file outside the repository.
repos="$root/project/repositories"
mirror="$(python3 - <<'PY' 2>/dev/null || true
import os, xml.etree.ElementTree as ET
paths = [os.path.expanduser("~/.m2/settings.xml")]
home = os.environ.get("MAVEN_HOME") or os.environ.get("M2_HOME")
paths += [os.path.join(home, "conf/settings.xml")] if home else []
paths += ["/etc/maven/settings.xml", "/usr/share/maven/conf/settings.xml"]
for p in paths:
    try:
        root = ET.parse(p).getroot()
    except Exception:
        continue
    ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
    for m in root.iter(ns + "mirror"):
        of = (m.findtext(ns + "mirrorOf") or "").split(",")
        url = (m.findtext(ns + "url") or "").strip()
        if url and ("*" in of or "central" in of or "external:*" in of):
            print(url)
            raise SystemExit(0)
PY
)"
if [ -n "$mirror" ]; then
  repos="$HOME/.sbt/stopstreaming-repositories"
  printf '[repositories]\n  local\n  maven-mirror: %s\n' "$mirror" > "$repos"
fi

java_opts=(-Xms512m -Xmx3g -Xss4m -XX:+UseParallelGC
  -Dsbt.repository.config="$repos" -Dsbt.override.build.repos=true
  -Dsbt.boot.directory="$HOME/.sbt/boot" -Dsbt.server.autostart=false)
if [ -n "${CI:-}" ] || [ ! -t 1 ]; then
  java_opts+=(-Dsbt.supershell=false -Dsbt.color=false -Dsbt.log.noformat=true)
fi

cd "$root"
exec java "${java_opts[@]}" ${SBT_OPTS:-} -jar "$launcher" "$@"
