"""Build hook: a wheel without the plugin jar would be useless, so building one fails."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

JARS = Path(__file__).parent / "src" / "stopstreaming" / "jars"


LINES = ("spark3_2.12", "spark4_2.13")


class BuildWithJar(build_py):
    """Refuses to build unless stopstreaming/jars/ holds exactly one jar per Spark line."""

    def run(self) -> None:
        """Check for the jars, then build as usual."""
        for line in LINES:
            jars = sorted(JARS.glob(f"stopstreaming-{line}-*-assembly.jar"))
            if len(jars) != 1:
                found = ", ".join(j.name for j in sorted(JARS.glob("*.jar"))) or "none"
                raise SystemExit(
                    f"stopstreaming: expected exactly one {line} plugin jar in {JARS} (found: {found}). "
                    "Build them with `make build` from the repository root, which runs "
                    "`./sbt jvm/assembly` for each Spark line and copies the jars here."
                )
        super().run()


setup(cmdclass={"build_py": BuildWithJar})
