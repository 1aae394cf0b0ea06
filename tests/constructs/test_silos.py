"""CentralGovernance with OU membership: settings reach the handlers, Organizations reads are
granted on this organisation only, and the template stays cdk-nag and cfn-lint clean."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

ORG = "o-abc123def4"
PATH = f"{ORG}/r-ab12/ou-ab12-11111111/*"


def _synth(outdir: str, **props: Any) -> dict[str, Any]:
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from meshkit.constructs import CentralGovernance

    app = cdk.App(outdir=outdir)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    stack = cdk.Stack(
        app, "Central", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    CentralGovernance(stack, "Governance", mesh_name="silo", organization_id=ORG, **props)
    return app.synth().get_stack_by_name("Central").template  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def delegated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(str(tmp_path_factory.mktemp("delegated")), organization_paths=[PATH])


@pytest.fixture(scope="module")
def via_management(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(
        str(tmp_path_factory.mktemp("management")),
        organization_paths=[PATH],
        organization_management_account="999999999999",
    )


def _functions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "MESHKIT_SETTINGS" in r["Properties"].get("Environment", {}).get("Variables", {})
    ]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_membership_settings_reach_every_central_handler(delegated: dict[str, Any]) -> None:
    functions = _functions(delegated)
    assert functions
    for fn in functions:
        settings = json.loads(fn["Environment"]["Variables"]["MESHKIT_SETTINGS"])
        assert settings["organization_id"] == ORG
        assert settings["organization_paths"] == [PATH]
        assert settings["organization_cache_seconds"] == 300
        assert "MESHKIT_CROSS_ACCOUNT_ROLE" not in fn["Environment"]["Variables"]


def test_organizations_reads_scoped_to_the_organisation(delegated: dict[str, Any]) -> None:
    reads = [s for s in _statements(delegated) if s.get("Sid") == "OrganizationMembershipRead"]
    assert reads
    for s in reads:
        assert sorted(s["Action"]) == ["organizations:DescribeAccount", "organizations:ListParents"]
        text = json.dumps(s["Resource"])
        assert f"account/{ORG}/*" in text
        assert f"ou/{ORG}/*" in text


def test_management_account_reader_role(via_management: dict[str, Any]) -> None:
    for fn in _functions(via_management):
        variables = fn["Environment"]["Variables"]
        assert variables["MESHKIT_CROSS_ACCOUNT_ROLE"] == "meshkit-organization-reader"
        settings = json.loads(variables["MESHKIT_SETTINGS"])
        assert settings["organization_management_account"] == "999999999999"
    assumes = [s for s in _statements(via_management) if s.get("Sid") == "AssumeOrganizationReader"]
    assert assumes
    assert "role/meshkit-organization-reader" in json.dumps(assumes[0]["Resource"])
    assert not [
        s for s in _statements(via_management) if s.get("Sid") == "OrganizationMembershipRead"
    ]


def test_management_account_needs_an_organisation(tmp_path: Path) -> None:
    import aws_cdk as cdk

    from meshkit.constructs import CentralGovernance

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "C", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    with pytest.raises(ValueError, match="needs organization_id"):
        CentralGovernance(
            stack,
            "G",
            mesh_name="silo",
            member_accounts=["222222222222"],
            organization_management_account="999999999999",
        )


def test_cfn_lint_clean(delegated: dict[str, Any], tmp_path: Path) -> None:
    from test_quality import _lint  # the suite's one cfn-lint runner

    path = tmp_path / "central.template.json"
    path.write_text(json.dumps(delegated))
    assert _lint([path]) == []
