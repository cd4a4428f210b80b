"""Check that this Python environment holds every package at the version the lock file pins.

Run by the Dockerfile after installing ``uv export --frozen`` requirements over the Airflow base
image, which comes with its own constraints (a celery the lock does not pin, for one): the build
fails here, naming each package, rather than in a worker at the first task.

    python deploy/check_lock.py requirements.txt
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


def pinned(requirements: str) -> dict[str, str]:
    """``{package: version}`` for the ``name==version`` lines whose markers hold here."""
    pins = {}
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        (spec,) = requirement.specifier
        pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def mismatches(pins: dict[str, str]) -> list[str]:
    """One line per pinned package that is missing or at another version."""
    problems = []
    for name, version in sorted(pins.items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}: not installed (uv.lock pins {version})")
            continue
        if Version(installed) != Version(version):
            problems.append(f"{name}: {installed} installed, uv.lock pins {version}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python deploy/check_lock.py REQUIREMENTS\n")
        return 2
    pins = pinned(Path(argv[0]).read_text())
    problems = mismatches(pins)
    if problems:
        sys.stderr.write("The image does not match uv.lock:\n" + "".join(f"  {p}\n" for p in problems))
        return 1
    sys.stdout.write(f"{len(pins)} packages at the versions uv.lock pins\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
