"""Build hook: a wheel without the plugin jar would be useless, so building one fails."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

JARS = Path(__file__).parent / "src" / "stopstreaming" / "jars"


class BuildWithJar(build_py):
    """Refuses to build unless exactly one plugin jar sits in stopstreaming/jars/."""

    def run(self) -> None:
        """Check for the jar, then build as usual."""
        jars = sorted(JARS.glob("*.jar"))
        if len(jars) != 1:
            found = ", ".join(j.name for j in jars) or "none"
            raise SystemExit(
                f"stopstreaming: expected exactly one plugin jar in {JARS} (found: {found}). "
                "Build it with `make build` from the repository root, which runs "
                "`./sbt jvm/assembly` and copies the jar here."
            )
        super().run()


setup(cmdclass={"build_py": BuildWithJar})
