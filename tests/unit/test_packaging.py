"""Packaging: ranges not pins for what a team's stack also uses, one version, typed metadata."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

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


# -- missing extras: one line naming the extra, never a traceback --------------------------------
_BLOCKING = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


def _run_blocked(blocked: set[str], code: str) -> subprocess.CompletedProcess[str]:
    script = _BLOCKING.format(blocked=sorted(blocked)) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("blocked", "code", "extra", "missing"),
    [
        ({"moto"}, "import meshkit.local", "local", "moto"),
        ({"duckdb"}, "from meshkit.local import LocalMesh", "local", "duckdb"),
        ({"pyarrow"}, "from meshkit.local.lake import LakeSimulation", "local", "pyarrow"),
        ({"aws_cdk"}, "from meshkit.constructs import DataDomain", "cdk", "aws_cdk"),
        ({"constructs"}, "import meshkit.constructs", "cdk", "constructs"),
        (
            {"pyarrow"},
            "from meshkit.erasure.formats import count_matches\n"
            "from meshkit.erasure.subjects import Matcher\n"
            "count_matches('part-0.parquet', b'PAR1' + bytes(8) + b'PAR1', Matcher())",
            "erasure",
            "pyarrow",
        ),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(
    blocked: set[str], code: str, extra: str, missing: str
) -> None:
    result = _run_blocked(blocked, code)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("MissingExtraError: ")
    # the module blocked, and any other of the extra this environment lacks
    absent = re.search(r"\(([a-z_, ]+) (?:is|are) not installed\)", line)
    assert absent
    assert missing in absent.group(1).split(", ")
    assert line.endswith(f"pip install 'meshkit[{extra}]'")


def test_the_demo_without_the_local_extra_says_what_to_install() -> None:
    result = _run_blocked(
        {"moto", "duckdb", "pyarrow"},
        "from meshkit.cli import main\nraise SystemExit(main(['demo']))",
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "meshkit: error: meshkit.local (the local mesh) needs the 'local' extra (moto, duckdb, "
        "pyarrow are not installed): pip install 'meshkit[local]'"
    )


def test_a_caught_missing_extra_is_an_import_error_and_other_errors_keep_their_traceback() -> None:
    result = _run_blocked(
        {"moto"},
        """
        try:
            import meshkit.local
        except ImportError as exc:
            print(type(exc).__name__, exc.name)
        raise ValueError("something else")
        """,
    )
    assert result.stdout.strip() == "MissingExtraError moto"
    assert "Traceback" in result.stderr
    assert result.stderr.strip().endswith("ValueError: something else")


def test_the_local_extra_uses_moto_in_process_only() -> None:
    local = PROJECT["optional-dependencies"]["local"]
    (moto,) = [r for r in local if r.startswith("moto")]
    assert "server" not in moto
    # nothing in meshkit starts a moto server
    sources = "\n".join(p.read_text() for p in (ROOT / "src" / "meshkit").rglob("*.py"))
    assert "ThreadedMotoServer" not in sources
    assert "moto.server" not in sources


def test_project_urls_and_classifiers() -> None:
    urls = PROJECT["urls"]
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert PROJECT["license"] == "Apache-2.0"


# -- the lowest supported versions ---------------------------------------------------------------
def test_floors_pin_the_lowest_declared_versions_of_core_and_cdk() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import floors
    finally:
        sys.path.remove(str(ROOT / "tools"))

    pins = dict(line.split("==") for line in floors.floors(["cdk"]))
    assert pins["aws-cdk-lib"] == "2.275.0"
    assert pins["constructs"] == "10.5.1"
    assert pins["cdk-nag"] == "3.0.2"
    assert pins["pydantic"] == "2.11"
    assert pins["boto3"] == pins["botocore"] == "1.44.5"
    # tools the floors do not concern keep constraints.txt's exact versions
    assert (
        pins["pytest"]
        == dict(
            line.split("==")
            for line in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line
        )["pytest"]
    )
    assert floors.floor("moto[dynamodb,s3]==5.2.5") == "moto==5.2.5"
    with pytest.raises(ValueError, match="declares no floor"):
        floors.floor("rich")


def test_make_test_runs_the_construct_tests_at_the_floors() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (test_line,) = [line for line in makefile.splitlines() if line.startswith("test:")]
    assert "test-floors" in test_line.split(":", 1)[1].split()
    target = makefile.split("\ntest-floors:", 1)[1].split("\n\n", 1)[0]
    assert "$(FLOOR_TESTS)" in target
    (tests,) = re.findall(r"FLOOR_TESTS := ((?:.*\\\n)*.*)", makefile)
    paths = tests.replace("\\\n", " ").split()
    assert "tests/constructs/test_templates.py" in paths
    assert "tests/constructs/test_lake_formation.py" in paths
    assert all((ROOT / p).is_file() for p in paths)
    assert "tools/floors.py cdk" in makefile
