"""Lake Formation in the templates: central registers the domains' storage with its location
role, which the domain's bucket and key policies trust; data-lake admins are merged, not
replaced. One synthesis (cdk-nag AwsSolutions on) for the module."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk.assertions import Match, Template

from meshkit import topology

if TYPE_CHECKING:
    from pathlib import Path

CENTRAL = "111111111111"
DOMAIN = "222222222222"
REGION = "eu-west-1"
ROLE_NAME = "meshkit-lake-location-eu-west-1"


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from meshkit.constructs import CentralGovernance, DataDomain

    app = cdk.App(outdir=str(tmp_path_factory.mktemp("lake-cdk-out")))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    central = cdk.Stack(app, "Central", env=cdk.Environment(account=CENTRAL, region=REGION))
    CentralGovernance(
        central,
        "Governance",
        mesh_name="lake",
        member_accounts=[DOMAIN],
        register_data_lake_admins=True,
        data_lake_admins=[f"arn:aws:iam::{CENTRAL}:role/platform-admin"],
    )
    org = cdk.Stack(app, "OrgCentral", env=cdk.Environment(account=CENTRAL, region=REGION))
    CentralGovernance(
        org,
        "Governance",
        mesh_name="orglake",
        organization_id="o-abc123def4",
        organization_paths=["o-abc123def4/r-ab12/ou-ab12-11111111/*"],
        schema_registry=False,
    )
    domain = cdk.Stack(app, "Domain", env=cdk.Environment(account=DOMAIN, region=REGION))
    DataDomain(
        domain,
        "Domain",
        mesh_name="lake",
        domain_name="sales",
        central_account=CENTRAL,
        register_data_lake_admins=True,
    )
    second = cdk.Stack(app, "Second", env=cdk.Environment(account=DOMAIN, region=REGION))
    DataDomain(
        second,
        "Domain",
        mesh_name="lake",
        domain_name="returns",
        central_account=CENTRAL,
        register_data_lake_admins=True,
    )
    return {s.stack_name: s.template for s in app.synth().stacks}


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _statements(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        st["Sid"]: st
        for r in _of_type(template, kind).values()
        for st in (r["Properties"].get("PolicyDocument") or r["Properties"]["KeyPolicy"])[
            "Statement"
        ]
        if "Sid" in st
    }


def test_no_stack_registers_a_location_or_replaces_the_data_lake_settings(
    stacks: dict[str, dict[str, Any]],
) -> None:
    # The domain no longer registers its prefix in its own account (central's catalog holds the
    # tables), and no stack owns the account's whole data-lake settings.
    for template in stacks.values():
        assert _of_type(template, "AWS::LakeFormation::Resource") == {}
        assert _of_type(template, "AWS::LakeFormation::DataLakeSettings") == {}


def test_schema_registry_can_be_left_out(stacks: dict[str, dict[str, Any]]) -> None:
    # For the Regions without EventBridge Schemas (docs/deploy.md): nothing of it is created.
    org = stacks["OrgCentral"]
    assert _of_type(org, "AWS::EventSchemas::Registry") == {}
    assert _of_type(org, "AWS::EventSchemas::Schema") == {}
    assert len(_of_type(stacks["Central"], "AWS::EventSchemas::Registry")) == 1


def test_central_location_role_is_named_and_limited_to_member_accounts(
    stacks: dict[str, dict[str, Any]],
) -> None:
    t = Template.from_json(stacks["Central"])
    t.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": ROLE_NAME,
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like({"Principal": {"Service": "lakeformation.amazonaws.com"}})
                ]
            },
        },
    )
    statements = _statements(stacks["Central"], "AWS::IAM::Policy")
    for sid in ("DomainObjects", "DomainListing", "DomainKeys", "BucketOwner"):
        assert statements[sid]["Condition"]["StringEquals"] == {"aws:ResourceAccount": [DOMAIN]}
    assert statements["DomainKeys"]["Condition"]["StringLike"] == {
        "kms:ViaService": f"s3.{REGION}.amazonaws.com"
    }
    org = _statements(stacks["OrgCentral"], "AWS::IAM::Policy")
    assert org["DomainObjects"]["Condition"] == {
        "StringEquals": {"aws:ResourceOrgID": "o-abc123def4"},
        "ForAnyValue:StringLike": {
            "aws:ResourceOrgPaths": ["o-abc123def4/r-ab12/ou-ab12-11111111/*"]
        },
    }


def test_onboarding_may_register_with_the_location_role_only(
    stacks: dict[str, dict[str, Any]],
) -> None:
    statements = _statements(stacks["Central"], "AWS::IAM::Policy")
    assert sorted(statements["DataLocations"]["Action"]) == [
        "lakeformation:DeregisterResource",
        "lakeformation:DescribeResource",
        "lakeformation:RegisterResource",
    ]
    passed = statements["PassLocationRole"]
    assert passed["Action"] == "iam:PassRole"
    assert passed["Condition"] == {
        "StringEquals": {"iam:PassedToService": "lakeformation.amazonaws.com"}
    }
    assert "LocationRole" in json.dumps(passed["Resource"])
    # the location role's name reaches every central handler's settings
    functions = _of_type(stacks["Central"], "AWS::Lambda::Function")
    settings = [
        json.loads(f["Properties"]["Environment"]["Variables"]["MESHKIT_SETTINGS"])
        for f in functions.values()
        if "MESHKIT_SETTINGS" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert len(settings) == len(topology.groups_for("central", ()))
    assert {s["location_role_name"] for s in settings} == {ROLE_NAME}


def test_domain_bucket_and_key_trust_only_centrals_location_role(
    stacks: dict[str, dict[str, Any]],
) -> None:
    bucket = _statements(stacks["Domain"], "AWS::S3::BucketPolicy")
    role = f":iam::{CENTRAL}:role/meshkit-lake-location-{REGION}"
    for sid in ("CentralLakeFormationObjects", "CentralLakeFormationListing"):
        condition = bucket[sid]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
        assert role in json.dumps(condition)
        assert f":iam::{CENTRAL}:root" in json.dumps(bucket[sid]["Principal"])
    assert "/products/*" in json.dumps(bucket["CentralLakeFormationObjects"]["Resource"])
    assert bucket["CentralLakeFormationListing"]["Condition"]["StringLike"] == {
        "s3:prefix": ["products/*"]
    }
    assert bucket["CentralOwnershipCheck"]["Action"] == "s3:ListBucket"
    key = _statements(stacks["Domain"], "AWS::KMS::Key")["CentralLakeFormationData"]
    assert sorted(key["Action"]) == ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    assert role in json.dumps(key["Condition"]["ArnEquals"])
    assert key["Condition"]["StringEquals"] == {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}


def test_data_lake_admins_are_a_merging_custom_resource(stacks: dict[str, dict[str, Any]]) -> None:
    for name in ("Central", "Domain", "Second"):
        template = stacks[name]
        (resource,) = _of_type(template, "AWS::CloudFormation::CustomResource").values()
        admins = resource["Properties"]["Admins"]
        # every handler role of the stack but the guard's (it never acts in Lake Formation)
        handler_roles = [a["Fn::GetAtt"][0] for a in admins if not isinstance(a, str)]
        assert len(handler_roles) == 3  # one per handler group (onboarding/access, erasure)
        assert not [r for r in handler_roles if "Guard" in r]
        assert [r for r in _of_type(template, "AWS::IAM::Role") if "GuardRole" in r]
        assert all(r in _of_type(template, "AWS::IAM::Role") for r in handler_roles)
        functions = _of_type(template, "AWS::Lambda::Function")
        (function,) = [
            f
            for f in functions.values()
            if f["Properties"]["Handler"] == "meshkit.runtime.data_lake_admins.handler"
        ]
        assert "Layers" not in function["Properties"]  # standard library and boto3 only
        statements = _statements(template, "AWS::IAM::Policy")
        assert sorted(statements["DataLakeSettings"]["Action"]) == [
            "lakeformation:GetDataLakeSettings",
            "lakeformation:PutDataLakeSettings",
        ]
    central = _of_type(stacks["Central"], "AWS::CloudFormation::CustomResource")
    (admins,) = [r["Properties"]["Admins"] for r in central.values()]
    assert admins[0] == f"arn:aws:iam::{CENTRAL}:role/platform-admin"


def test_cfn_lint_clean(stacks: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file

    findings = []
    for name, template in stacks.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        findings += [f"{name}: {m}" for m in lint_file(path, config=ManualArgs(regions=[REGION]))]
    assert findings == []
