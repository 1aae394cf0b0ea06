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
    assembly = app.synth()
    return {n: assembly.get_stack_by_name(n).template for n in ("Central", "Sales")}


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
