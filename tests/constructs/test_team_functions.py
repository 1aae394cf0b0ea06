"""Team functions: MeshFunction and MeshEventSource ship meshkit, the layer, the MESHKIT_*
environment and the grants; rules filter central's events; cdk-nag and cfn-lint clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meshkit.runtime.config import MeshConfig

CENTRAL, SALES = "111111111111", "222222222222"
OWN_LAYER = f"arn:aws:lambda:eu-west-1:{CENTRAL}:layer:team-pydantic:3"
TEAM_CODE = Path(__file__).resolve().parents[2] / "examples" / "domain" / "notify"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sns as sns
    from cdk_nag import AwsSolutionsChecks

    from meshkit.constructs import CentralGovernance, DataDomain, MeshEventSource, MeshFunction
    from meshkit.events import AccessGranted, AccessRequested, GlueCrawlerStateChange
    from meshkit.events.domains import DomainRegistered

    outdir = tmp_path_factory.mktemp("team")
    app = cdk.App(outdir=str(outdir))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    env = cdk.Environment(account=SALES, region="eu-west-1")
    stack = cdk.Stack(app, "Sales", env=env)
    domain = DataDomain(
        stack, "Domain", mesh_name="demo", domain_name="sales", central_account=CENTRAL
    )
    topic = sns.Topic(stack, "Topic", enforce_ssl=True)
    notify = MeshFunction(
        stack,
        "Notify",
        mesh=domain,
        entry=TEAM_CODE,
        settings={"topic_arn": topic.topic_arn},
    )
    topic.grant_publish(notify)
    made = domain.add_handler(AccessGranted, notify, id="NotifyGranted")
    # Mixed: central's AccessGranted, a domain's AccessRequested, an AWS event; opted out.
    MeshFunction(
        stack,
        "Mixed",
        mesh=domain,
        entry=TEAM_CODE,
        events=[AccessGranted, AccessRequested, GlueCrawlerStateChange],
    )
    loose = MeshFunction(stack, "Loose", mesh=domain, entry=TEAM_CODE)
    loose.add_event_source(MeshEventSource(domain, [DomainRegistered], any_sender=True))
    # A function the team built itself: environment, layer and grants are added, code is its own.
    plain_role = iam.Role(
        stack, "PlainRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    plain = lambda_.Function(
        stack,
        "Plain",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="app.handler",
        code=lambda_.Code.from_asset(str(TEAM_CODE)),
        role=plain_role,
    )
    cdk.Validations.of(plain).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-L1", reason="Python 3.13: the newest runtime of the Powertools layer"
        )
    )
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        cdk.Validations.of(plain_role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Action::{action}]",
                reason="CDK's grant on the KMS-encrypted queue and table of the mesh's one key",
            )
        )
    domain.add_handler(AccessRequested, plain, id="PlainRequested", settings={"team_x": 1})
    imported = lambda_.Function.from_function_arn(
        stack, "Imported", f"arn:aws:lambda:eu-west-1:{SALES}:function:theirs"
    )
    imported.add_event_source(MeshEventSource(domain, [DomainRegistered], id="Theirs"))

    central_stack = cdk.Stack(
        app, "Central", env=cdk.Environment(account=CENTRAL, region="eu-west-1")
    )
    # The construct's own dependencies layer reaches team functions too.
    own_layer = lambda_.LayerVersion.from_layer_version_arn(central_stack, "OwnLayer", OWN_LAYER)
    central = CentralGovernance(
        central_stack,
        "Governance",
        mesh_name="demo",
        member_accounts=[SALES],
        dependencies_layer=own_layer,
    )
    audit = MeshFunction(
        central_stack, "Audit", mesh=central, entry=TEAM_CODE, settings={"team_audit": True}
    )
    central.add_handler(AccessRequested, audit, settings={"team_level": 2})
    assembly = app.synth()
    return {
        "outdir": outdir,
        "domain": assembly.get_stack_by_name("Sales").template,
        "central": assembly.get_stack_by_name("Central").template,
        "warnings": [
            str(m.entry.data)
            for m in assembly.get_stack_by_name("Sales").messages
            if "warn" in str(m.level).lower()
        ],
        "made": made,
    }


def _functions(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    found = [
        r["Properties"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and k.startswith(prefix)
    ]
    assert len(found) == 1, (prefix, len(found))
    return found[0]


def _rules(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Events::Rule" and k.startswith(prefix)
    ]


def test_team_function_ships_meshkit_with_its_code(synth: dict[str, Any]) -> None:
    fn = _functions(synth["domain"], "Notify")
    assert fn["Handler"] == "app.handler"
    key = fn["Code"]["S3Key"].removesuffix(".zip")
    asset = synth["outdir"] / f"asset.{key}"
    assert (asset / "app.py").is_file()
    assert (asset / "meshkit" / "runtime" / "router.py").is_file()
    assert not (asset / "meshkit" / "constructs").exists()  # CDK code never ships to Lambda
    assert fn["Layers"] == [
        "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    ]
    assert fn["LoggingConfig"]["LogFormat"] == "JSON"


def test_team_function_environment_is_the_mesh_config(synth: dict[str, Any]) -> None:
    variables = _functions(synth["domain"], "Notify")["Environment"]["Variables"]
    names = MeshConfig.env_names()
    # Every variable the runtime reads that this deployment sets, none of them by hand.
    for field_name in ("mesh_name", "role", "account_id", "region", "central_account", "bus"):
        assert names[field_name] in variables
    for field_name in ("domain", "registry_table", "idempotency_table", "dead_letter_queue_url"):
        assert names[field_name] in variables
    assert variables["MESHKIT_ROLE"] == "domain"
    assert variables["MESHKIT_CENTRAL_ACCOUNT"] == CENTRAL
    # The DLQ URL is that of the handler's own dead-letter queue.
    assert variables["MESHKIT_DLQ_URL"]["Ref"].startswith("DomainNotifyGrantedWorkDeadLetterQueue")
    settings = json.dumps(variables["MESHKIT_SETTINGS"])
    assert '\\"topic_arn\\":\\"' in settings
    assert "storage_uri" in settings


def test_team_function_grants(synth: dict[str, Any]) -> None:
    template = synth["domain"]
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and k.startswith("NotifySupportRole")
    ]
    assert len(policies) == 1
    actions = {
        a
        for s in policies[0]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem"} <= actions
    assert {"events:PutEvents", "sqs:SendMessage", "sqs:ReceiveMessage", "sns:Publish"} <= actions
    assert "logs:PutLogEvents" in actions
    roles = [
        r["Properties"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and k.startswith("NotifySupportRole")
    ]
    assert "ManagedPolicyArns" not in roles[0]  # no AWS managed policy


def test_central_emitted_events_are_matched_from_central_only(synth: dict[str, Any]) -> None:
    template = synth["domain"]
    [granted] = _rules(template, "DomainNotifyGranted")
    assert granted["EventPattern"] == {
        "source": ["meshkit.access"],
        "detail-type": ["AccessGranted"],
        "account": [CENTRAL],
    }
    mixed = {
        json.dumps(r["EventPattern"], sort_keys=True) for r in _rules(template, "DomainCustom")
    }
    assert (
        json.dumps(
            {"account": [CENTRAL], "detail-type": ["AccessGranted"], "source": ["meshkit.access"]},
            sort_keys=True,
        )
        in mixed
    )
    assert (
        json.dumps(
            {"detail-type": ["AccessRequested"], "source": ["meshkit.access"]}, sort_keys=True
        )
        in mixed
    )
    assert any("Glue Crawler State Change" in p for p in mixed)
    # any_sender=True: the opt-out has no account filter.
    loose = list(_rules(template, "DomainCustomDomainRegistered"))
    assert [r["EventPattern"].get("account") for r in loose] == [None]


def test_a_plain_function_gets_environment_layer_and_grants(synth: dict[str, Any]) -> None:
    fn = _functions(synth["domain"], "Plain")
    variables = fn["Environment"]["Variables"]
    assert variables["MESHKIT_ROLE"] == "domain"
    assert variables["MESHKIT_DLQ_URL"]["Ref"].startswith("DomainPlainRequestedWorkDeadLetter")
    assert '\\"team_x\\":1' in json.dumps(variables["MESHKIT_SETTINGS"])
    # the layer of the function's own architecture (x86_64, CDK's default)
    assert [layer.split(":")[6] for layer in fn["Layers"]] == [
        "AWSLambdaPowertoolsPythonV3-python313-x86_64"
    ]
    [policy] = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for k, r in synth["domain"]["Resources"].items()
        if r["Type"] == "AWS::IAM::Policy" and k.startswith("PlainRole")
    ]
    actions = {
        a for s in policy for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {"dynamodb:PutItem", "events:PutEvents", "sqs:SendMessage"} <= actions


def test_imported_function_is_warned_about(synth: dict[str, Any]) -> None:
    [warning] = [w for w in synth["warnings"] if "meshkit cannot" in w]
    assert "MESHKIT_DLQ_URL" in str(warning)
    assert "MeshFunction" in str(warning)
    # Still subscribed: the rule, queue and mapping exist.
    assert _rules(synth["domain"], "DomainTheirs")


def test_central_add_handler_settings_reach_the_function(synth: dict[str, Any]) -> None:
    variables = _functions(synth["central"], "Audit")["Environment"]["Variables"]
    settings = json.loads(variables["MESHKIT_SETTINGS"])
    assert settings["team_audit"] is True
    assert settings["team_level"] == 2
    assert settings["domain_accounts"] == {}
    assert variables["MESHKIT_ROLE"] == "central"
    assert _functions(synth["central"], "Audit")["Layers"] == [OWN_LAYER]


def test_cfn_lint_clean(synth: dict[str, Any], tmp_path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file

    findings = []
    for name in ("domain", "central"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(synth[name]))
        findings += [str(m) for m in lint_file(path, config=ManualArgs(regions=["eu-west-1"]))]
    assert findings == []


def test_bad_team_functions_fail_at_synth(tmp_path: Path) -> None:
    import aws_cdk as cdk

    from meshkit.constructs import DataDomain, MeshFunction

    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=SALES, region="eu-west-1"))
    domain = DataDomain(stack, "D", mesh_name="demo", domain_name="sales", central_account=CENTRAL)
    with pytest.raises(ValueError, match=r"no main\.py"):
        MeshFunction(stack, "A", mesh=domain, entry=TEAM_CODE, handler="main.handler")
    with pytest.raises(ValueError, match="not a folder"):
        MeshFunction(stack, "B", mesh=domain, entry=tmp_path / "missing")
    with pytest.raises(ValueError, match=r"\['storage_uri'\] already set"):
        MeshFunction(stack, "C", mesh=domain, entry=TEAM_CODE, settings={"storage_uri": "x"})
    (tmp_path / "meshkit").mkdir()
    (tmp_path / "app.py").write_text("def handler(e, c): pass\n")
    with pytest.raises(ValueError, match="holds a meshkit folder"):
        MeshFunction(stack, "D", mesh=domain, entry=tmp_path)
