"""DataZone publishing in the constructs: the publication groups exist only when asked for, their
rules and IAM are scoped, the domain tells central its settings on deploy, nag and lint clean."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

DZ = "dzd_4p9n6sw4qt9xgn"
CENTRAL, DOMAIN = "111111111111", "222222222222"
#: A second mesh whose DataZone domain is in an account of its own.
REMOTE_CENTRAL, DATAZONE_ACCOUNT = "555555555555", "666666666666"
ANALYST = f"arn:aws:iam::{DOMAIN}:role/analyst"


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from meshkit.constructs import (
        CentralGovernance,
        DataDomain,
        DataZonePublishing,
        DataZoneSettings,
    )
    from meshkit.constructs.datazone import DataZoneAccountAccess

    app = cdk.App(outdir=str(tmp_path_factory.mktemp("dz")))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    central = cdk.Stack(app, "Central", env=cdk.Environment(account=CENTRAL, region="eu-west-1"))
    CentralGovernance(
        central,
        "Governance",
        mesh_name="dz",
        member_accounts=[DOMAIN],
        datazone=DataZoneSettings(domain_ids=[DZ], environment_profile_id="prof1"),
    )
    domain = cdk.Stack(app, "Sales", env=cdk.Environment(account=DOMAIN, region="eu-west-1"))
    DataDomain(
        domain,
        "Sales",
        mesh_name="dz",
        domain_name="sales",
        central_account=CENTRAL,
        consumer_principals=[ANALYST],
        datazone=DataZonePublishing(datazone_domain_id=DZ, project_name="sales"),
    )
    remote = cdk.Stack(
        app, "RemoteCentral", env=cdk.Environment(account=REMOTE_CENTRAL, region="eu-west-1")
    )
    CentralGovernance(
        remote,
        "Governance",
        mesh_name="dzr",
        member_accounts=[DOMAIN],
        datazone=DataZoneSettings(
            domain_ids=[DZ], environment_profile_id="prof1", account=DATAZONE_ACCOUNT
        ),
    )
    dz_account = cdk.Stack(
        app, "DataZoneAccount", env=cdk.Environment(account=DATAZONE_ACCOUNT, region="eu-west-1")
    )
    DataZoneAccountAccess(
        dz_account, "Access", mesh_name="dzr", central_account=REMOTE_CENTRAL, domain_ids=[DZ]
    )
    assembly = app.synth()
    names = ("Central", "Sales", "RemoteCentral", "DataZoneAccount")
    return {n: assembly.get_stack_by_name(n).template for n in names}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _function(template: dict[str, Any], group: str) -> dict[str, Any]:
    (fn,) = [
        r["Properties"]
        for r in _resources(template, "AWS::Lambda::Function").values()
        if r["Properties"].get("Environment", {}).get("Variables", {}).get("MESHKIT_GROUP") == group
        or f" {group}" in str(r["Properties"].get("Description", ""))
    ]
    return fn


def _patterns(template: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for rule in _resources(template, "AWS::Events::Rule").values():
        pattern = rule["Properties"].get("EventPattern")
        if pattern:
            out.append({"pattern": pattern, "bus": rule["Properties"].get("EventBusName")})
    return out


def test_the_central_publication_group_reads_datazone_s_events(
    stacks: dict[str, dict[str, Any]],
) -> None:
    central = stacks["Central"]
    settings = json.loads(
        _function(central, "central.publication")["Environment"]["Variables"]["MESHKIT_SETTINGS"]
    )
    assert settings["datazone"] == {"domain_ids": [DZ], "environment_profile_id": "prof1"}
    datazone = [p for p in _patterns(central) if p["pattern"]["source"] == ["aws.datazone"]]
    (rule,) = datazone
    assert rule["bus"] is None  # the default bus, where DataZone puts its events
    assert rule["pattern"]["account"] == [CENTRAL]
    assert rule["pattern"]["detail"] == {"metadata": {"domain": [DZ]}}
    assert "Data Source Run Succeeded" in rule["pattern"]["detail-type"]
    own = [
        p
        for p in _patterns(central)
        if p["pattern"].get("account") == [CENTRAL]
        and "AccessGranted" in p["pattern"]["detail-type"]
    ]
    assert len(own) == 1  # central's own decisions, written back to DataZone


def test_datazone_actions_are_scoped_to_the_named_domains(
    stacks: dict[str, dict[str, Any]],
) -> None:
    statements = [
        s
        for r in _resources(stacks["Central"], "AWS::IAM::Policy").values()
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    (dz,) = [s for s in statements if s.get("Sid") == "DataZonePublication"]
    assert all(a.startswith("datazone:") and "*" not in a for a in dz["Action"])
    assert "domain/" + DZ in json.dumps(dz["Resource"])
    assert not [
        s
        for s in statements
        if any(
            str(a).startswith("datazone:")
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        )
        and s.get("Sid") != "DataZonePublication"
    ]


def test_the_domain_sends_its_publication_settings_on_deploy(
    stacks: dict[str, dict[str, Any]],
) -> None:
    sales = stacks["Sales"]
    (publication,) = [
        r
        for k, r in sales["Resources"].items()
        if k.startswith("SalesPublication") and r["Type"] == "Custom::AWS"
    ]
    text = json.dumps(publication["Properties"])
    assert "DomainPublicationConfigured" in text
    assert "project_name" in text
    # The domain's settings hold tokens (bucket, roles): a Fn::Join in the template.
    settings = json.dumps(
        _function(sales, "domain.publication")["Environment"]["Variables"]["MESHKIT_SETTINGS"]
    )
    assert '\\"datazone_principals\\":[\\"' + ANALYST in settings


def test_no_publication_group_without_datazone(templates: dict[str, dict[str, Any]]) -> None:
    for template in templates.values():
        descriptions = [
            str(r["Properties"].get("Description", ""))
            for r in _resources(template, "AWS::Lambda::Function").values()
        ]
        assert descriptions
        assert not [d for d in descriptions if d.endswith(".publication")]
        assert "aws.datazone" not in json.dumps(template)
        assert "datazone:" not in json.dumps(template)


def test_bad_publication_settings_fail_the_synth(tmp_path: Path) -> None:
    import aws_cdk as cdk

    from meshkit.constructs import DataDomain, DataZonePublishing, DataZoneSettings

    with pytest.raises(ValueError, match="exactly one of project_id and project_name"):
        DataZonePublishing(datazone_domain_id=DZ).event("sales")
    with pytest.raises(ValueError, match="are not 'dzd_"):
        DataZoneSettings(domain_ids=["4p9n"], environment_profile_id="p")
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=DOMAIN, region="eu-west-1"))
    with pytest.raises(ValueError, match="subscriber_principals"):
        DataDomain(
            stack,
            "D",
            mesh_name="dz",
            domain_name="sales",
            central_account=CENTRAL,
            datazone=DataZonePublishing(datazone_domain_id=DZ, project_id="p1"),
        )


def test_cfn_lint_clean(stacks: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from test_quality import _lint  # the suite's one cfn-lint runner

    paths = []
    for name, template in stacks.items():
        path = tmp_path / f"{name}.template.json"
        path.write_text(json.dumps(template))
        paths.append(path)
    assert _lint(paths) == []


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for r in _resources(template, "AWS::IAM::Policy").values()
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_a_datazone_account_of_its_own_is_reached_through_one_trusted_role(
    stacks: dict[str, dict[str, Any]],
) -> None:
    central, access = stacks["RemoteCentral"], stacks["DataZoneAccount"]
    fn = _function(central, "central.publication")
    variables = fn["Environment"]["Variables"]
    assert variables["MESHKIT_CROSS_ACCOUNT_ROLE"] == "meshkit-dzr-datazone-access"
    assert json.loads(variables["MESHKIT_SETTINGS"])["datazone"]["account"] == DATAZONE_ACCOUNT
    # The publication role has a fixed name, and may only assume the one role over there.
    roles = _resources(central, "AWS::IAM::Role")
    assert [
        r for r in roles.values() if r["Properties"].get("RoleName") == "meshkit-dzr-publication"
    ]
    statements = _statements(central)
    (assume,) = [s for s in statements if s.get("Sid") == "DataZoneAccountRole"]
    assert assume["Action"] == "sts:AssumeRole"
    assert DATAZONE_ACCOUNT + ":role/meshkit-dzr-datazone-access" in json.dumps(assume["Resource"])
    assert "datazone:" not in json.dumps(statements)  # the actions are the other role's
    # That role trusts central's account, limited to the publication handler's role.
    (role,) = [
        r
        for r in _resources(access, "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == "meshkit-dzr-datazone-access"
    ]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert REMOTE_CENTRAL in json.dumps(trust["Principal"])
    assert "meshkit-dzr-publication" in json.dumps(trust["Condition"]["ArnEquals"])
    (dz,) = [s for s in _statements(access) if s.get("Sid") == "DataZonePublication"]
    assert all(a.startswith("datazone:") and "*" not in a for a in dz["Action"])
    assert DATAZONE_ACCOUNT + ":domain/" + DZ in json.dumps(dz["Resource"])


def test_a_datazone_account_of_its_own_forwards_its_events_to_central(
    stacks: dict[str, dict[str, Any]],
) -> None:
    central, access = stacks["RemoteCentral"], stacks["DataZoneAccount"]
    (rule,) = [p for p in _patterns(central) if p["pattern"]["source"] == ["aws.datazone"]]
    assert rule["pattern"]["account"] == [DATAZONE_ACCOUNT]
    (props,) = [
        r["Properties"]
        for r in _resources(central, "AWS::Events::EventBusPolicy").values()
        if r["Properties"].get("EventBusName") == "default"
    ]
    assert DATAZONE_ACCOUNT in json.dumps(props["Statement"]["Principal"])
    assert props["Statement"]["Condition"] == {"StringEquals": {"events:source": ["aws.datazone"]}}
    (forward,) = _resources(access, "AWS::Events::Rule").values()
    assert forward["Properties"]["EventPattern"]["detail"] == {"metadata": {"domain": [DZ]}}
    (target,) = forward["Properties"]["Targets"]
    assert REMOTE_CENTRAL + ":event-bus/default" in json.dumps(target["Arn"])
    assert "DeadLetterConfig" in target
    # EventBridge's role acts for this account only.
    forward_roles = [
        r
        for r in _resources(access, "AWS::IAM::Role").values()
        if "events.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    ]
    (events_role,) = forward_roles
    assert "aws:SourceAccount" in json.dumps(events_role["Properties"]["AssumeRolePolicyDocument"])
