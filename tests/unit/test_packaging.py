"""Packaging: ranges not pins for what a team's stack also uses, one version, typed metadata."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import meshkit

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
SHARED = ("aws-cdk-lib", "constructs", "cdk-nag", "pyarrow", "duckdb", "boto3", "botocore")


def _requirements() -> dict[str, str]:
    reqs = list(PROJECT["dependencies"])
    for extra in PROJECT["optional-dependencies"].values():
        reqs += extra
    out = {}
    for r in reqs:
        name = re.split(r"[\[<>=!~ ]", r, maxsplit=1)[0]
        out[name] = r
    return out


def test_shared_dependencies_are_ranges_capped_at_next_major() -> None:
    reqs = _requirements()
    for name in SHARED:
        spec = reqs[name]
        assert "==" not in spec, spec
        floor = re.search(r">=(\d+)", spec)
        cap = re.search(r"<(\d+)(?:[,\s]|$)", spec)
        assert floor, spec
        assert cap, spec
        assert int(cap.group(1)) == int(floor.group(1)) + 1, spec


def test_constraints_pin_every_shared_dependency_inside_its_range() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for name in SHARED:
        major = int(pins[name].split(".")[0])
        floor = re.search(r">=([\d.]+)", _requirements()[name])
        assert floor
        assert tuple(map(int, pins[name].split("."))) >= tuple(map(int, floor.group(1).split(".")))
        assert f"<{major + 1}" in _requirements()[name]
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()


def test_single_version_spdx_license_typed() -> None:
    assert PROJECT["dynamic"] == ["version"]
    assert "version" not in PROJECT
    assert re.fullmatch(r"\d+\.\d+\.\d+", meshkit.__version__)
    assert PROJECT["license"] == "Apache-2.0"
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert (ROOT / "src" / "meshkit" / "py.typed").is_file()
