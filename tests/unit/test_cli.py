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
    (target / "myteam.events@Theirs.json").write_text("{}")  # a file export did not write
    assert main(["events", "export", str(target)]) == 0
    files = sorted(p.name for p in target.glob("*@*.json"))
    assert len(files) == len(catalogue.mesh_events()) + 1
    assert "meshkit.access@AccessRequested.json" in files
    assert (target / "myteam.events@Theirs.json").read_text() == "{}"  # never removed
    assert f"wrote {len(files) - 1} schemas" in capsys.readouterr().out


def test_events_export_a_teams_module_and_remove_only_its_own_stale_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "code" / "teamx"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "events.py").write_text(
        "from typing import ClassVar\n"
        "from pydantic import Field\n"
        "from meshkit.events.base import MeshEvent\n"
        "from meshkit.runtime.router import EventRouter\n\n"
        "class InvoicePaid(MeshEvent):\n"
        '    """An invoice was paid."""\n'
        '    SOURCE: ClassVar[str] = "teamx.billing"\n'
        '    DETAIL_TYPE: ClassVar[str] = "InvoicePaid"\n'
        '    invoice: str = Field(description="Invoice number.", examples=["inv-1"])\n\n'
        'router = EventRouter("teamx.billing")\n'
        "router.on(InvoicePaid)(lambda event, ctx: None)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    target = tmp_path / "schemas"
    assert main(["events", "export", str(target), "--module", "teamx.events"]) == 0
    team = target / "teamx.billing@InvoicePaid.json"
    assert json.loads(team.read_text())["title"] == "InvoicePaid"
    # GIVEN the team's event is no longer exported: export removes the schema it wrote
    assert main(["events", "export", str(target)]) == 0
    assert not team.exists()
    assert (target / "meshkit.access@AccessRequested.json").exists()
    status = main(["events", "export", str(target), "--module", "json"])
    assert status != 0
    assert "defines no event model" in capsys.readouterr().err


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
