"""What ships to Lambda (erasure, governance too) imports without aws_cdk, moto, duckdb, pyarrow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = ("aws_cdk", "moto", "duckdb", "pyarrow", "constructs", "cdk_nag", "jsii")

SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    BLOCKED = {blocked!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked for this test: {{name}}", name=name)
            return None

    sys.meta_path.insert(0, Block())

    imported = []
    for package in (
        "meshkit.events",
        "meshkit.runtime",
        "meshkit.handlers",
        "meshkit.erasure",
        "meshkit.governance",
    ):
        module = importlib.import_module(package)
        imported.append(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            importlib.import_module(info.name)
            imported.append(info.name)
    importlib.import_module("meshkit.topology")
    imported.append("meshkit.topology")
    importlib.import_module("meshkit.trust")
    imported.append("meshkit.trust")
    importlib.import_module("meshkit.testing")
    imported.append("meshkit.testing")

    # Touch the lazily exported names too, and build the whole catalogue.
    import meshkit.events, meshkit.runtime
    for name in meshkit.events.__all__:
        getattr(meshkit.events, name)
    for name in meshkit.runtime.__all__:
        getattr(meshkit.runtime, name)
    meshkit.events.all_events()

    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print("\\n".join(imported))
    """
).format(blocked=BLOCKED)


def test_lambda_code_imports_without_heavy_dependencies() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    imported = result.stdout.split()
    assert "meshkit.runtime.router" in imported
    assert "meshkit.runtime.lambda_entry" in imported
    assert "meshkit.topology" in imported
    assert "meshkit.erasure.objects" in imported
    assert "meshkit.governance.handlers" in imported


def test_the_blocker_really_blocks() -> None:
    probe = SCRIPT.split("imported = []")[0] + "import moto\n"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "blocked for this test: moto" in result.stderr


def test_lambda_entry_import_is_light() -> None:
    script = (
        "import sys, meshkit.runtime.lambda_entry\n"
        "heavy = [m for m in ('pydantic', 'boto3', 'meshkit.events.access', 'meshkit.topology')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
