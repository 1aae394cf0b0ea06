"""Every Python block of docs/extending.md runs, in order, in one folder and one namespace:
a block whose first line is ``# <path>.py`` is written to that file instead."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_FILE = re.compile(r"\A# ([\w/]+\.py)\n")


def blocks() -> list[str]:
    return _BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_page_has_code_to_run() -> None:
    found = blocks()
    assert len(found) >= 3
    assert any(_FILE.match(b) for b in found)


def test_every_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aws_cdk", reason="the page deploys with the 'cdk' extra")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path / "cdk.out"))
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    namespace: dict[str, object] = {"__name__": "docs_extending"}
    try:
        for number, block in enumerate(blocks(), 1):
            target = _FILE.match(block)
            if target:
                path = tmp_path / target.group(1)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(block, encoding="utf-8")
                continue
            code = compile(block, f"{DOC.name}[block {number}]", "exec")
            exec(code, namespace)  # the documented code, run as a reader would
    finally:
        for name in [m for m in sys.modules if m == "notify" or m.startswith("notify.")]:
            del sys.modules[name]
