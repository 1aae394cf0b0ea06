"""meshkit's pydantic requirement: one in pyproject.toml, the same checked at a Lambda's cold
start, and admitted by the pydantic major the Powertools layer bundles."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pydantic
import pytest

from meshkit.runtime import lambda_entry

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _declared() -> tuple[tuple[int, int], tuple[int, int]]:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if re.match(r"pydantic\b", d)]
    floor = re.search(r">=\s*(\d+)\.(\d+)", spec)
    cap = re.search(r"<\s*(\d+)(?:\.(\d+))?", spec)
    assert floor is not None
    assert cap is not None
    return (int(floor[1]), int(floor[2])), (int(cap[1]), int(cap[2] or 0))


def test_the_cold_start_check_is_pyprojects_requirement() -> None:
    assert _declared() == lambda_entry.PYDANTIC_REQUIREMENT


def test_the_powertools_layers_pydantic_major_is_admitted() -> None:
    pytest.importorskip("aws_cdk", reason="the constructs need the 'cdk' extra")
    from meshkit.constructs import _code

    (floor, cap) = lambda_entry.PYDANTIC_REQUIREMENT
    major = int(_code.POWERTOOLS_LAYER_PYDANTIC)
    assert floor[0] <= major < cap[0]


@pytest.mark.parametrize("version", ["2.10.6", "1.10.13", "3.0.0", "2"])
def test_a_pydantic_outside_the_requirement_is_refused(version: str) -> None:
    with pytest.raises(ImportError, match=rf"pydantic {re.escape(version)} .*dependencies_layer"):
        lambda_entry.check_pydantic(version)


@pytest.mark.parametrize("version", ["2.11.0", "2.12.5", str(pydantic.VERSION)])
def test_a_pydantic_inside_it_is_accepted(version: str) -> None:
    lambda_entry.check_pydantic(version)
