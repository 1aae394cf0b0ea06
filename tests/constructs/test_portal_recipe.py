"""docs/portal.md's registry-reader recipe, run as written: a read-only role on the registry,
trusted by the team's account only, that covers every call the portal's AwsBackend makes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).parents[2] / "docs" / "portal.md"
CENTRAL, TEAM = "111111111111", "222222222222"
#: The DynamoDB calls of ``meshkit.registry.RegistryReader`` (the portal's registry reads).
PORTAL_CALLS = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}
WRITES = re.compile(r"dynamodb:(Put|Update|Delete|BatchWrite|Create|Restore|Import|Tag)")


def _recipe() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    (recipe,) = [b for b in blocks if "registry_table" in b]
    return recipe


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from meshkit.constructs import CentralGovernance

    app = cdk.App(outdir=str(tmp_path_factory.mktemp("portal-recipe")))
    central_stack = cdk.Stack(
        app, "Central", env=cdk.Environment(account=CENTRAL, region="eu-west-1")
    )
    central = CentralGovernance(
        central_stack, "Governance", mesh_name="acme", member_accounts=[TEAM]
    )
    exec(compile(_recipe(), str(DOC), "exec"), {"central_stack": central_stack, "central": central})
    return Template.from_stack(central_stack).to_json()  # type: ignore[no-any-return]


def _reader(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    roles = {
        k: r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role"
        and r["Properties"].get("RoleName") == "meshkit-acme-sales-portal-reader"
    }
    ((logical, role),) = roles.items()
    return logical, role


def test_the_reader_is_trusted_by_the_teams_account_only(template: dict[str, Any]) -> None:
    _, role = _reader(template)
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    principal = statement["Principal"]["AWS"]
    assert TEAM in str(principal)
    assert CENTRAL not in str(principal)


def test_the_reader_reads_the_registry_only_and_covers_the_portals_calls(
    template: dict[str, Any],
) -> None:
    logical, _ = _reader(template)
    policies = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": logical} in r["Properties"].get("Roles", [])
    ]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions >= PORTAL_CALLS
    assert not [a for a in actions if WRITES.search(a)], actions
    assert not [a for a in actions if "*" in a], "no action wildcards"
    registry = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::DynamoDB::Table" and "Registry" in k
    ]
    assert len(registry) == 1
    for s in statements:
        if any(a.startswith("dynamodb:") for a in s["Action"]):
            assert registry[0] in str(s["Resource"]), s["Resource"]
