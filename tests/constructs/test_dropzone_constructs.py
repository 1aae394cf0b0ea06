"""DropZone: bucket with EventBridge notifications, IAM-authenticated vending URL, SFTP with a
Lambda identity provider, the validator wired from the topology; cdk-nag and cfn-lint clean."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

PARTNER_ROLE = "arn:aws:iam::777777777777:role/acme-uploader"
COLUMNS = [{"name": "order_id", "type": "bigint"}, {"name": "amount", "type": "double"}]


def _app(outdir: str, **props: Any) -> tuple[Any, Any]:
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from meshkit.constructs import DataDomain, DropZone

    app = cdk.App(outdir=outdir)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    stack = cdk.Stack(app, "Sales", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    domain = DataDomain(
        stack, "Domain", mesh_name="lake", domain_name="sales", central_account="111111111111"
    )
    partners = props.pop(
        "partners",
        {
            "acme": {
                "product": "orders",
                "format": "csv",
                "columns": COLUMNS,
                "principals": [PARTNER_ROLE],
                "public_keys": ["ssh-ed25519 AAAAC3Nza acme"],
            }
        },
    )
    DropZone(stack, "DropZone", domain=domain, partners=partners, **props)
    return app, stack


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app, _ = _app(str(tmp_path_factory.mktemp("dropzone")), sftp=True)
    return app.synth().get_stack_by_name("Sales").template  # type: ignore[no-any-return]


def _of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def _logical(template: dict[str, Any], kind: str, prefix: str) -> str:
    return next(
        k for k, r in template["Resources"].items() if r["Type"] == kind and k.startswith(prefix)
    )


def test_bucket_sends_eventbridge_notifications(template: dict[str, Any]) -> None:
    bucket = _logical(template, "AWS::S3::Bucket", "DropZoneBucket")
    props = template["Resources"][bucket]["Properties"]
    assert props["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


def test_validator_rule_is_the_topology_pattern(template: dict[str, Any]) -> None:
    from meshkit import topology

    bucket = _logical(template, "AWS::S3::Bucket", "DropZoneBucket")
    rules = [r["Properties"] for r in _of(template, "AWS::Events::Rule")]
    upload = [r for r in rules if r.get("Description") == "dropzone: partners' uploads"]
    assert len(upload) == 1
    expected = topology.dropzone_pattern(bucket="BUCKET")
    got = json.loads(
        json.dumps(upload[0]["EventPattern"]).replace(json.dumps({"Ref": bucket}), '"BUCKET"')
    )
    assert got == expected
    assert "EventBusName" not in upload[0]  # the default bus, where S3 sends its events
    validators = [
        f["Properties"]
        for f in _of(template, "AWS::Lambda::Function")
        if f["Properties"].get("Environment", {}).get("Variables", {}).get("MESHKIT_GROUP")
        == "dropzone"
    ]
    assert len(validators) == 1


def test_vending_url_is_iam_authenticated_and_partner_scoped(template: dict[str, Any]) -> None:
    urls = [r["Properties"] for r in _of(template, "AWS::Lambda::Url")]
    assert [u["AuthType"] for u in urls] == ["AWS_IAM"]
    invokes = [
        p["Properties"]
        for p in _of(template, "AWS::Lambda::Permission")
        if p["Properties"]["Action"] == "lambda:InvokeFunctionUrl"
    ]
    assert [(p["Principal"], p["FunctionUrlAuthType"]) for p in invokes] == [
        (PARTNER_ROLE, "AWS_IAM")
    ]


def test_upload_role_puts_only_and_never_into_quarantine(template: dict[str, Any]) -> None:
    role = _logical(template, "AWS::IAM::Role", "DropZoneUploadRole")
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of(template, "AWS::IAM::Policy")
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    statements = {s["Sid"]: s for s in policies[0]}
    assert statements["PartnerUploads"]["Action"] == "s3:PutObject"
    assert statements["NeverQuarantine"]["Effect"] == "Deny"
    assert "quarantine/*" in json.dumps(statements["NeverQuarantine"]["Resource"])
    trust = template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    principals = json.dumps([s["Principal"] for s in trust])
    assert "transfer.amazonaws.com" in principals
    assert "DropZoneVendingRole" in principals


def test_sftp_server_uses_the_lambda_identity_provider(template: dict[str, Any]) -> None:
    (server,) = [r["Properties"] for r in _of(template, "AWS::Transfer::Server")]
    assert server["IdentityProviderType"] == "AWS_LAMBDA"
    assert server["IdentityProviderDetails"]["SftpAuthenticationMethods"] == "PUBLIC_KEY"
    assert server["Protocols"] == ["SFTP"]
    idp_invoke = [
        p["Properties"]
        for p in _of(template, "AWS::Lambda::Permission")
        if p["Properties"]["Principal"] == "transfer.amazonaws.com"
    ]
    assert len(idp_invoke) == 1
    assert "SourceArn" in idp_invoke[0]


def test_settings_reach_the_handlers(template: dict[str, Any]) -> None:
    envs = [
        f["Properties"]["Environment"]["Variables"]
        for f in _of(template, "AWS::Lambda::Function")
        if "dropzone" in json.dumps(f["Properties"].get("Environment", {}))
    ]
    assert len(envs) == 3  # vending, identity provider, validator
    text = json.dumps(envs[0]["MESHKIT_SETTINGS"])
    assert '\\"format\\":\\"csv\\"' in text
    assert "orders/orders/" in text
    assert '\\"max_session_seconds\\":3600' in text


def test_no_action_wildcards(template: dict[str, Any]) -> None:
    from test_quality import _statements

    grants = [s for s in _statements(template) if s["Effect"] == "Allow"]
    assert grants
    for statement in grants:
        actions = statement.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            assert action != "*", statement
            assert not action.endswith(":*"), statement


def test_cfn_lint_clean(template: dict[str, Any], tmp_path: Path) -> None:
    from test_quality import _lint

    path = tmp_path / "dropzone.template.json"
    path.write_text(json.dumps(template))
    assert _lint([path]) == []


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"max_session": "2h"}, "AWS caps role-chained sessions at 1 hour"),
        ({"max_session": "10m"}, "900..3600"),
        ({"partners": {}}, "partners is empty"),
        ({"partners": {"Acme": {"product": "orders"}}}, "lowercase"),
        ({"partners": {"quarantine": {"product": "orders"}}}, "not 'quarantine'"),
        ({"partners": {"acme": {"product": "orders", "format": "xlsx"}}}, "format 'xlsx'"),
        (
            {"partners": {"acme": {"product": "orders", "principals": ["acme"]}}},
            "not an IAM or STS ARN",
        ),
        (
            {
                "partners": {
                    "acme": {"product": "orders", "columns": [{"name": "a", "type": "money"}]}
                }
            },
            "type 'money'",
        ),
        ({"partners": {"acme": {"product": "orders", "location": "/abs/"}}}, "relative"),
    ],
)
def test_bad_props_fail_at_synth(tmp_path: Path, props: dict[str, Any], message: str) -> None:
    from aws_cdk import Duration

    if "max_session" in props:
        value = props["max_session"]
        props["max_session"] = Duration.hours(2) if value == "2h" else Duration.minutes(10)
    with pytest.raises(ValueError, match=message):
        _app(str(tmp_path), **props)
