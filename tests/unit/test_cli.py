"""The meshkit command: events list/show/export, demo, errors."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import pytest

from meshkit.cli import main
from meshkit.events import catalogue

if TYPE_CHECKING:
    from pathlib import Path


def test_events_list_prints_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "list"]) == 0
    out = capsys.readouterr().out
    header, rule, *rows = out.splitlines()
    assert header.split() == ["source", "detail-type", "model", "fields"]
    assert set(rule) <= {"-", " "}
    assert len(rows) == len(catalogue.all_events())
    assert any(r.startswith("meshkit.access") and "AccessRequested" in r for r in rows)
    assert "Glue Crawler State Change" in out


def test_events_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "show", "AccessRequested"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("AccessRequested: meshkit.access / AccessRequested")
    assert "principals" in out
    assert "Consumer IAM roles" in out
    example = out.split("Example detail\n", 1)[1].split("\n\nJSON Schema", 1)[0]
    assert json.loads(example)["consumer_domain"] == "marketing"
    schema = json.loads(out.split("JSON Schema (draft-04)\n", 1)[1])
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"


def test_events_show_accepts_source_at_detail_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "show", "meshkit.products@ProductRegistered"]) == 0
    out = capsys.readouterr().out
    assert "RegisteredTable" in out  # nested types get their own table


def test_unknown_detail_type_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "show", "AccessTeleported"]) == 2
    err = capsys.readouterr().err
    assert "unknown detail-type 'AccessTeleported'" in err
    assert "AccessRequested" in err


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        main(["events"])
    assert info.value.code == 2


def test_events_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "schemas"
    (target).mkdir()
    (target / "meshkit.old@Gone.json").write_text("{}")
    assert main(["events", "export", str(target)]) == 0
    files = sorted(p.name for p in target.iterdir())
    assert len(files) == len(catalogue.mesh_events())
    assert "meshkit.access@AccessRequested.json" in files
    assert "meshkit.old@Gone.json" not in files
    assert f"wrote {len(files)} schemas" in capsys.readouterr().out


def test_demo_without_local_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import meshkit._extras

    # moto is "not installed", and the local mesh is imported afresh
    real = meshkit._extras._installed
    monkeypatch.setattr(meshkit._extras, "_installed", lambda m: m != "moto" and real(m))
    for name in [m for m in sys.modules if m == "meshkit.local" or m.startswith("meshkit.local.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    assert main(["demo"]) == 1
    assert capsys.readouterr().err == (
        "meshkit: error: meshkit.local (the local mesh) needs the 'local' extra "
        "(moto is not installed): pip install 'meshkit[local]'\n"
    )


def test_demo_calls_the_local_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    calls: list[bool] = []
    fake = types.ModuleType("meshkit.local.demo")
    fake.main = lambda as_json: calls.append(as_json) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "meshkit.local.demo", fake)
    assert main(["demo", "--json"]) == 0
    assert calls == [True]


def test_events_show_aws_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["events", "show", "Glue Crawler State Change"]) == 0
    out = capsys.readouterr().out
    assert "crawlerName" in out
    assert "(none: aws.glue events are AWS's" in out
