"""`meshkit demo --json`: the contract the README and CI rely on."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import meshkit.local.demo as demo
from meshkit.local.demo import main

if TYPE_CHECKING:
    import pytest

REQUIRED_FLOWS = {
    "domain_onboarding",
    "product_registration",
    "access_pii_approved",
    "access_auto_granted",
    "revocation",
    "permissions",
    "publication",
    "erasure",
}


def test_demo_json_reports_every_flow_and_query(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True
    assert isinstance(out["wall_seconds"], float)
    # wall time from process start: interpreter, imports and the mesh's start-up included
    assert 0 < out["startup_seconds"] < out["total_seconds"]
    assert out["total_seconds"] >= out["startup_seconds"] + out["wall_seconds"]
    flows = {f["name"]: f for f in out["flows"]}
    assert set(flows) >= REQUIRED_FLOWS
    for flow in flows.values():
        assert flow["ok"] is True
        assert flow["polls"] == 0, "no flow polls the crawler"
        assert flow["events"] > 0
        assert flow["api_calls"] > 0
    verdicts = [(q["domain"], q["allowed"], q["rows"] > 0) for q in out["queries"]]
    assert verdicts == [
        ("marketing", True, True),  # PII product, approved by sales
        ("marketing", True, True),  # the customer's orders, before the erasure
        ("marketing", True, False),  # the same query after it: the rows are gone
        ("finance", True, True),  # non-sensitive product, granted at once
        ("finance", False, False),  # PII product without a grant
        ("marketing", False, False),  # after revocation
        ("central", True, True),  # a table inherited by the analyst persona in one event
        ("central", False, False),  # the PII column the analyst persona may not read
        ("finance", True, True),  # a DataZone subscription, approved by sales through the mesh
    ]


def test_the_terminal_demo_streams_its_timeline_while_the_flows_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each handler call is printed when it happens (not in a table at the end), under the
    header of its flow, and the last line gives the wall time with the start-up."""
    from rich.console import Console

    running = {"scenario": False}
    writes: list[tuple[bool, str]] = []

    class Recorder:
        def write(self, text: str) -> int:
            writes.append((running["scenario"], text))
            return len(text)

        def flush(self) -> None:
            pass

    real_run = demo.run_demo

    def run(*args: object, **kwargs: object) -> demo.DemoResult:
        running["scenario"] = True
        try:
            return real_run(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            running["scenario"] = False

    monkeypatch.setattr(demo, "run_demo", run)
    monkeypatch.setattr(demo, "_console", lambda: Console(file=Recorder(), width=160))
    assert main(as_json=False) == 0
    lines = [(during, line) for during, text in writes for line in text.splitlines() if line]
    during = [line for d, line in lines if d]
    # the flows' headers and their handler calls, in order, while the scenario ran
    headers = [line for line in during if not line.startswith(" ")]
    assert headers[:2] == ["domain onboarding", "product registration"]
    first = during.index("domain onboarding")
    assert "DomainRegistrationRequested" in during[first + 1]
    assert "register_domain" in during[first + 1]
    assert sum("ProductSchemaUpdated" in line for line in during) >= 2
    assert lines[0][1].startswith("starting the local mesh")
    assert lines[1][1].startswith("mesh ready after ")
    last = lines[-1][1]
    assert last.startswith("demo OK in ")
    assert "start-up" in last
    assert "flows" in last
