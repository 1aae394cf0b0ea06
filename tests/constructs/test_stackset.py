"""DomainStackSet: a service-managed, auto-deploying StackSet whose template is a synthesized
DataDomain with its assets in an organisation-readable bucket; synth-time template checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ORG = "o-abc123def4"
OU = "ou-ab12-11111111"
MGMT = "999999999999"
ASSETS = f"meshkit-lake-domain-assets-{MGMT}-eu-west-1"


def _app(outdir: str, **props: Any) -> tuple[Any, Any]:
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from meshkit.constructs.stackset import DomainStackSet

    app = cdk.App(outdir=outdir)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    stack = cdk.Stack(app, "Org", env=cdk.Environment(account=MGMT, region="eu-west-1"))
    kwargs: dict[str, Any] = {
        "mesh_name": "lake",
        "central_account": "111111111111",
        "organization_id": ORG,
        "organizational_unit_ids": [OU],
        **props,
    }
    return app, DomainStackSet(stack, "Domains", **kwargs)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("stackset")
    app, stack_set = _app(str(outdir))
    assembly = app.synth()
    org = assembly.get_stack_by_name("Org").template
    domain = json.loads((Path(outdir) / stack_set.template.template_file).read_text())
    return org, domain


def _of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_stack_set_is_service_managed_and_auto_deploys(
    synthesized: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    (props,) = _of(synthesized[0], "AWS::CloudFormation::StackSet")
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert props["StackInstancesGroup"] == [
        {"DeploymentTargets": {"OrganizationalUnitIds": [OU]}, "Regions": ["eu-west-1"]}
    ]
    assert "CAPABILITY_NAMED_IAM" in props["Capabilities"]
    assert "TemplateURL" in props


def test_domain_template_code_is_in_the_organisation_bucket(
    synthesized: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, domain = synthesized
    functions = _of(domain, "AWS::Lambda::Function")
    assert len(functions) >= 3
    assert {f["Code"]["S3Bucket"] for f in functions} == {ASSETS}
    assert "cdk-hnb659fds" not in json.dumps(domain)
    assert "Parameters" not in domain  # nothing for the StackSet to set per account


def test_the_organisation_may_read_the_assets(
    synthesized: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    statements = [
        s
        for p in _of(synthesized[0], "AWS::S3::BucketPolicy")
        for s in p["PolicyDocument"]["Statement"]
    ]
    (read,) = [s for s in statements if s.get("Sid") == "OrganizationReadsDomainAssets"]
    assert read["Action"] == "s3:GetObject"
    assert read["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    copies = _of(synthesized[0], "Custom::CDKBucketDeployment")
    assert copies
    assert copies[0]["Extract"] is False


def test_each_account_registers_under_its_own_name(
    synthesized: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, domain = synthesized
    (registration,) = [
        p for p in _of(domain, "Custom::MeshkitRegistration") if p["Kind"] == "registration"
    ]
    assert "DomainRegistrationRequested" in json.dumps(registration["Entry"])
    text = json.dumps(registration["Entry"])
    assert json.dumps({"Fn::Join": ["_", ["acct", {"Ref": "AWS::AccountId"}]]}) in text
    envs = [
        f["Environment"]["Variables"]
        for f in _of(domain, "AWS::Lambda::Function")
        if "Environment" in f
    ]
    domains = [e["MESHKIT_DOMAIN"] for e in envs if "MESHKIT_DOMAIN" in e]
    assert domains
    assert all(d == {"Fn::Join": ["_", ["acct", {"Ref": "AWS::AccountId"}]]} for d in domains)


def test_cfn_lint_clean(synthesized: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path) -> None:
    from test_quality import _lint

    paths = []
    for name, template in zip(("org", "domain"), synthesized, strict=True):
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        paths.append(path)
    assert _lint(paths) == []


def test_domain_name_from_an_ssm_parameter(tmp_path: Path) -> None:
    app, stack_set = _app(str(tmp_path), domain_name_source="ssm", ssm_parameter="/org/domain")
    app.synth()
    domain = json.loads((tmp_path / stack_set.template.template_file).read_text())
    (parameter,) = domain["Parameters"].values()
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/org/domain",
        "Description": "SSM parameter holding this account's domain name",
    }


def test_synth_fails_when_the_template_is_not_stackset_ready(tmp_path: Path) -> None:
    import aws_cdk as cdk

    app, stack_set = _app(str(tmp_path))
    # An export of the management account cannot resolve in a member account.
    cdk.CfnOutput(stack_set.template, "Leak", value=cdk.Fn.import_value("some-export"))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "Fn::ImportValue reads an export of one account and region" in report


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {
                "Parameters": {
                    "BootstrapVersion": {
                        "Type": "AWS::SSM::Parameter::Value<String>",
                        "Default": "/cdk-bootstrap/hnb659fds/version",
                    }
                }
            },
            "bootstrap",
        ),
        ({"Parameters": {"Team": {"Type": "String"}}}, "no default"),
        ({"Rules": {"CheckBootstrapVersion": {}}}, "template rule"),
        (
            {
                "Resources": {
                    "F": {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {"Code": {"S3Bucket": "cdk-assets", "S3Key": "k"}},
                    }
                }
            },
            "not in the organisation's assets bucket",
        ),
        ({"Resources": {"N": {"Type": "AWS::CloudFormation::Stack", "Properties": {}}}}, "nested"),
        ({"Outputs": {"O": {"Value": {"Ref": "Missing"}}}}, "names no parameter or resource"),
    ],
)
def test_check_stackset_template_finds(template: dict[str, Any], message: str) -> None:
    from meshkit.constructs.stackset import check_stackset_template

    problems = check_stackset_template(template, asset_bucket=ASSETS)
    assert any(message in p for _, p in problems), problems


def test_check_stackset_template_accepts_set_parameters_and_size() -> None:
    from meshkit.constructs.stackset import check_stackset_template

    template = {
        "Parameters": {"Team": {"Type": "String"}},
        "Outputs": {"T": {"Value": {"Ref": "Team"}}},
    }
    assert check_stackset_template(template, asset_bucket=ASSETS, parameters=["Team"]) == []
    assert check_stackset_template({}, asset_bucket=ASSETS, size=2_000_000)[0][1].startswith(
        "2000000"
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"organization_id": "abc"}, "not an o-"),
        ({"organizational_unit_ids": []}, "is empty"),
        ({"organizational_unit_ids": ["Projects"]}, "not an ou-"),
        ({"domain_name_prefix": "Acct"}, "domain_name_prefix"),
        ({"domain_props": {"domain_name": "x"}}, "may not set 'domain_name'"),
        ({"call_as": "ADMIN"}, "call_as"),
    ],
)
def test_bad_props_fail(tmp_path: Path, props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _app(str(tmp_path), **props)
