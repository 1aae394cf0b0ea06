"""Print the constraints of the lowest supported install: the floor of every range in the core
dependencies and the given extras; every other package as constraints.txt pins it.

    python tools/floors.py cdk > floors.txt
    pip install -c floors.txt -e '.[cdk,dev]'

``make test-floors`` runs the construct tests in such an install. Standard library only.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$")


def _name(requirement: str) -> str:
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"cannot read requirement {requirement!r}")
    return match.group(1).lower().replace("_", "-")


def floor(requirement: str) -> str:
    """``aws-cdk-lib>=2.275.0,<3`` -> ``aws-cdk-lib==2.275.0`` (an exact pin stays as it is)."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"cannot read requirement {requirement!r}")
    spec = match.group(3)
    lowest = re.search(r"(?:>=|==)\s*([0-9][^,;\s]*)", spec)
    if lowest is None:
        raise ValueError(f"{requirement!r} declares no floor (>=) to test against")
    return f"{_name(requirement)}=={lowest.group(1)}"


def floors(extras: list[str], root: Path = ROOT) -> list[str]:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    lowest = {_name(r): floor(r) for r in requirements}
    pinned = [
        line.strip()
        for line in (root / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#") and _name(line.strip()) not in lowest
    ]
    return sorted([*lowest.values(), *pinned])


if __name__ == "__main__":
    print("\n".join(floors(sys.argv[1:] or ["cdk"])))
