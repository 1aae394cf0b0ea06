"""`meshkit demo --json`: the contract the README and CI rely on."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

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
    "erasure",
}


def test_demo_json_reports_every_flow_and_query(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True
    assert isinstance(out["wall_seconds"], float)
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
    ]
