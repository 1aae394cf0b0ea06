"""Key properties of what CentralGovernance and DataDomain synthesize (aws_cdk.assertions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from meshkit import topology
from meshkit.constructs.central import RULE_HANDLER_ACTIONS
from meshkit.runtime.tables import STATE_TABLE, TTL_ATTRIBUTE

CENTRAL_ACCOUNT = "111111111111"
DOMAIN_ACCOUNT = "222222222222"

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "events" / "schemas"


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _rule_patterns(template: dict[str, Any]) -> list[Any]:
    return [
        r["Properties"].get("EventPattern")
        for r in _of_type(template, "AWS::Events::Rule").values()
    ]


# -- shared wiring --------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["central", "domain"])
def test_tables_kms_pitr_ttl(which: str, request: pytest.FixtureRequest) -> None:
    t = Template.from_json(request.getfixturevalue(which))
    # registry/state and idempotency; a domain also holds its subject index
    t.resource_count_is("AWS::DynamoDB::Table", 3 if which == "domain" else 2)
    t.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "SSESpecification": {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": Match.any_value(),
            },
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        },
    )
    # The registry / state table has the shared shape's indexes and is retained.
    t.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "GlobalSecondaryIndexes": [
                        Match.object_like({"IndexName": i["IndexName"]})
                        for i in STATE_TABLE["GlobalSecondaryIndexes"]
                    ]
                }
            ),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    t.all_resources_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


@pytest.mark.parametrize("which", ["central", "domain"])
def test_queues_encrypted_with_dlq_and_tls_only(which: str, request: pytest.FixtureRequest) -> None:
    template = request.getfixturevalue(which)
    queues = _of_type(template, "AWS::SQS::Queue")
    # every group (the guard included): queue + DLQ each; the rule targets' dead letters
    # (central: also those of the domains' subscription rules)
    groups = len(topology.groups_for(which, ()))  # type: ignore[arg-type]
    assert groups == 4
    delivery = 2 if which == "central" else 1
    assert len(queues) == 2 * groups + delivery
    for queue in queues.values():
        assert "KmsMasterKeyId" in queue["Properties"]
    work = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    assert len(work) == groups
    assert all(q["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5 for q in work)
    policies = _of_type(template, "AWS::SQS::QueuePolicy").values()
    denies = [
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denies) == 2 * groups + delivery


@pytest.mark.parametrize("which", ["central", "domain"])
def test_functions_event_sources_alarms(which: str, request: pytest.FixtureRequest) -> None:
    t = Template.from_json(request.getfixturevalue(which))
    t.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "meshkit.runtime.lambda_entry.handler",
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
            "Layers": [Match.string_like_regexp("AWSLambdaPowertoolsPythonV3-python313-arm64:27")],
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "MESHKIT_ROLE": which,
                        "MESHKIT_GROUP": Match.any_value(),
                        "MESHKIT_MESH_NAME": "demo",
                        "MESHKIT_BUS": Match.any_value(),
                        "MESHKIT_CENTRAL_ACCOUNT": CENTRAL_ACCOUNT,
                        "MESHKIT_REGISTRY_TABLE": Match.any_value(),
                        "MESHKIT_IDEMPOTENCY_TABLE": Match.any_value(),
                        "MESHKIT_DLQ_URL": Match.any_value(),
                        "MESHKIT_MAX_RECEIVE_COUNT": "5",
                        "MESHKIT_SETTINGS": Match.any_value(),
                    }
                )
            },
        },
    )
    groups = len(topology.groups_for(which, ()))  # type: ignore[arg-type]
    t.resource_count_is("AWS::Lambda::EventSourceMapping", groups)
    t.all_resources_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 10},
    )
    t.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})
    alarms = _of_type(request.getfixturevalue(which), "AWS::CloudWatch::Alarm")
    metrics = sorted(a["Properties"]["MetricName"] for a in alarms.values())
    delivery = 2 if which == "central" else 1
    assert (
        metrics
        == ["ApproximateNumberOfMessagesVisible"] * (groups + delivery) + ["Errors"] * groups
    )


@pytest.mark.parametrize("which", ["central", "domain"])
def test_every_rule_target_has_retries_and_dead_letters(
    which: str, request: pytest.FixtureRequest
) -> None:
    """An event EventBridge cannot deliver is kept: retry policy + DLQ on every target."""
    from meshkit.constructs._handlers import MAX_EVENT_AGE_SECONDS, RETRY_ATTEMPTS

    template = request.getfixturevalue(which)
    queues = _of_type(template, "AWS::SQS::Queue")
    (delivery,) = (k for k in queues if "DeliveryDeadLetters" in k)
    policies = {
        json.dumps(p["Properties"]["Queues"]): p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of_type(template, "AWS::SQS::QueuePolicy").values()
    }
    (allowed,) = (st for q, st in policies.items() if delivery in q)
    rules = _of_type(template, "AWS::Events::Rule")
    assert rules
    for rule_id, rule in rules.items():
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": MAX_EVENT_AGE_SECONDS,
        }
        dlq = target["DeadLetterConfig"]["Arn"]
        if "recipients" in json.dumps(rule["Properties"].get("EventPattern", {})):
            # the subscription rule lives on the central bus: central's queue for them
            assert f":{CENTRAL_ACCOUNT}:meshkit-demo-subscription-dead-letters" in json.dumps(dlq)
            continue
        assert dlq == {"Fn::GetAtt": [delivery, "Arn"]}
        (grant,) = (
            st
            for st in allowed
            if st.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn")
            == {"Fn::GetAtt": [rule_id, "Arn"]}
        )
        assert grant["Action"] == "sqs:SendMessage"
        assert grant["Condition"]["StringEquals"]["aws:SourceAccount"] == (
            CENTRAL_ACCOUNT if which == "central" else DOMAIN_ACCOUNT
        )


def test_central_keeps_the_subscription_rules_dead_letters(central: dict[str, Any]) -> None:
    queues = _of_type(central, "AWS::SQS::Queue")
    (name,) = (k for k in queues if "SubscriptionDeadLetters" in k)
    assert queues[name]["Properties"]["QueueName"] == "meshkit-demo-subscription-dead-letters"
    (statements,) = (
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _of_type(central, "AWS::SQS::QueuePolicy").values()
        if name in json.dumps(p["Properties"]["Queues"])
    )
    (grant,) = (st for st in statements if st["Effect"] == "Allow")
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": CENTRAL_ACCOUNT}
    assert "rule/" in json.dumps(grant["Condition"]["ArnLike"]["aws:SourceArn"])


def test_groups_are_those_of_topology(central: dict[str, Any], domain: dict[str, Any]) -> None:
    for template, role in ((central, "central"), (domain, "domain")):
        groups = sorted(
            f["Properties"]["Environment"]["Variables"]["MESHKIT_GROUP"]
            for f in _of_type(template, "AWS::Lambda::Function").values()
            if "MESHKIT_GROUP" in f["Properties"].get("Environment", {}).get("Variables", {})
        )
        assert groups == sorted(g.name for g in topology.groups_for(role, ()))  # type: ignore[arg-type]


# -- central --------------------------------------------------------------------------------------


def test_central_rules_equal_topology(central: dict[str, Any]) -> None:
    patterns = _rule_patterns(central)
    for group in topology.groups_for("central", ()):
        if group.guard:
            guard = topology.guard_pattern(
                "central", central_account=CENTRAL_ACCOUNT, account=CENTRAL_ACCOUNT
            )
            assert guard in patterns
            continue
        assert topology.central_group_pattern(group, central_account=CENTRAL_ACCOUNT) in patterns
        if group.operator_events:
            # people's events (erasure) from any sender, central included: the handler checks
            assert topology.operator_pattern(group) in patterns
            assert "account" not in topology.operator_pattern(group)
    schedules = [
        r["Properties"]
        for r in _of_type(central, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    assert [s["ScheduleExpression"] for s in schedules] == [topology.SWEEP_SCHEDULE]
    assert "EventBusName" not in schedules[0]  # the default bus


def test_archive_keeps_identifying_events_out(central: dict[str, Any]) -> None:
    (archive,) = _of_type(central, "AWS::Events::Archive").values()
    pattern = archive["Properties"]["EventPattern"]
    assert pattern["detail-type"] == [{"anything-but": ["ErasureDispatched", "ErasureRequested"]}]
    assert "meshkit.erasure" in pattern["source"]


def test_erasure_handlers_sized_with_pyarrow_layer(domain: dict[str, Any]) -> None:
    functions = [
        f["Properties"]
        for f in _of_type(domain, "AWS::Lambda::Function").values()
        if f["Properties"].get("Environment", {}).get("Variables", {}).get("MESHKIT_GROUP")
        == "domain.erasure"
    ]
    (fn,) = functions
    assert fn["MemorySize"] == topology.ERASURE_MEMORY_MB
    assert fn["Timeout"] == topology.ERASURE_TIMEOUT_SECONDS
    assert any("AWSSDKPandas-Python313-Arm64" in json.dumps(layer) for layer in fn["Layers"])
    buckets = [
        b["Properties"]
        for b in _of_type(domain, "AWS::S3::Bucket").values()
        if "NotificationConfiguration" in b["Properties"]
    ]
    assert len(buckets) == 1
    assert buckets[0]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


def _rule_handler_permissions() -> list[str]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::Events::Rule")
    handlers = schema.schema["handlers"]
    actions = {a for h in handlers.values() for a in h["permissions"]}
    # iam:PassRole is the caller's own role (no bus policy), ListRules is not rule-scoped.
    return sorted(a for a in actions if a.startswith("events:") and a != "events:ListRules")


def test_central_bus_policy_members_and_own_rules(central: dict[str, Any]) -> None:
    statements = {
        p["Properties"]["StatementId"]: p["Properties"]["Statement"]
        for p in _of_type(central, "AWS::Events::EventBusPolicy").values()
    }
    put = statements["cdk-MembersPutEvents"]
    assert put["Action"] == "events:PutEvents"
    assert DOMAIN_ACCOUNT in json.dumps(put["Principal"])
    rules = statements["cdk-MembersManageOwnRules"]
    # Everything the AWS::Events::Rule resource handlers call (cfn-lint's resource schema).
    assert sorted(rules["Action"]) == sorted(RULE_HANDLER_ACTIONS)
    assert set(_rule_handler_permissions()) <= set(rules["Action"])
    assert rules["Condition"]["StringEqualsIfExists"] == {
        "events:creatorAccount": "${aws:PrincipalAccount}"
    }
    assert rules["Condition"]["ForAllValues:StringEquals"] == {
        "events:source": list(topology.MESH_SOURCES)
    }
    target = json.dumps(rules["Condition"]["ForAllValues:ArnLike"]["events:TargetArn"])
    assert ":${aws:PrincipalAccount}:*" in target
    assert len(statements) == 2


def test_central_bus_name_and_archive(central: dict[str, Any]) -> None:
    t = Template.from_json(central)
    t.has_resource_properties("AWS::Events::EventBus", {"Name": "meshkit-demo-central"})
    t.has_resource_properties(
        "AWS::Events::Archive",
        {
            "RetentionDays": 365,
            "EventPattern": {"source": list(topology.MESH_SOURCES)},
        },
    )


def test_schema_registry_holds_every_schema_file(central: dict[str, Any]) -> None:
    files = {p.stem: json.loads(p.read_text()) for p in SCHEMAS_DIR.glob("*@*.json")}
    assert files, f"{SCHEMAS_DIR} holds no schemas: run make schemas"
    Template.from_json(central).resource_count_is("AWS::EventSchemas::Registry", 1)
    schemas = {
        s["Properties"]["SchemaName"]: s["Properties"]
        for s in _of_type(central, "AWS::EventSchemas::Schema").values()
    }
    assert sorted(schemas) == sorted(files)
    for name, props in schemas.items():
        assert props["Type"] == "JSONSchemaDraft4"
        assert json.loads(props["Content"]) == files[name]
        assert len(props["Content"]) <= 100_000


# -- domain ---------------------------------------------------------------------------------------


def test_domain_rules_equal_topology(domain: dict[str, Any]) -> None:
    patterns = _rule_patterns(domain)
    for group in topology.groups_for("domain", ()):
        if group.guard:
            guard = topology.guard_pattern(
                "domain", central_account=CENTRAL_ACCOUNT, account=DOMAIN_ACCOUNT
            )
            assert guard in patterns
            continue
        assert topology.domain_group_pattern(group, central_account=CENTRAL_ACCOUNT) in patterns
    assert topology.forward_pattern(domain_account=DOMAIN_ACCOUNT) in patterns
    assert topology.crawler_pattern(mesh="demo", domain="sales") in patterns
    assert (
        topology.subscription_pattern(
            domain_account=DOMAIN_ACCOUNT, central_account=CENTRAL_ACCOUNT
        )
        in patterns
    )
    erasure = topology.group("domain.erasure")
    assert topology.own_pattern(erasure, account=DOMAIN_ACCOUNT) in patterns
    storage = [p for p in patterns if p.get("source") == ["aws.s3"]]
    assert storage == [
        {
            "source": ["aws.s3"],
            "detail-type": ["Object Created", "Object Deleted"],
            "detail": {
                "bucket": {"name": [{"Ref": storage[0]["detail"]["bucket"]["name"][0]["Ref"]}]},
                "object": {"key": [{"prefix": "products/"}]},
            },
        }
    ]
    assert len(patterns) == 9


def test_subscription_rule_lives_on_central_bus(domain: dict[str, Any]) -> None:
    central_bus = "meshkit-demo-central"
    subscription = next(
        r["Properties"]
        for r in _of_type(domain, "AWS::Events::Rule").values()
        if "recipients" in json.dumps(r["Properties"].get("EventPattern", {}))
    )
    assert central_bus in json.dumps(subscription["EventBusName"])
    assert CENTRAL_ACCOUNT in json.dumps(subscription["EventBusName"])
    (target,) = subscription["Targets"]
    assert "RoleArn" in target
    forward = next(
        r["Properties"]
        for r in _of_type(domain, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern")
        == topology.forward_pattern(domain_account=DOMAIN_ACCOUNT)
    )
    (target,) = forward["Targets"]
    assert central_bus in json.dumps(target["Arn"])
    assert "RoleArn" in target


def test_domain_bucket_secure(domain: dict[str, Any]) -> None:
    buckets = _of_type(domain, "AWS::S3::Bucket")
    data = next(
        b["Properties"] for b in buckets.values() if "LoggingConfiguration" in b["Properties"]
    )
    sse = data["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert data["VersioningConfiguration"] == {"Status": "Enabled"}
    assert data["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    for policy in _of_type(domain, "AWS::S3::BucketPolicy").values():
        assert any(
            s["Effect"] == "Deny"
            and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )
    # Central's Lake Formation registers the storage (test_lake_formation.py), not the domain.
    Template.from_json(domain).resource_count_is("AWS::LakeFormation::Resource", 0)


def test_crawler_permissions_scoped_to_domain_prefix(domain: dict[str, Any]) -> None:
    text = json.dumps(_of_type(domain, "AWS::IAM::Policy"))
    assert "crawler/demo-sales-*" in text
    assert '"iam:PassRole"' in text
    assert "glue.amazonaws.com" in text


def test_events_principals_carry_source_account(
    central: dict[str, Any], domain: dict[str, Any]
) -> None:
    """Confused deputy: EventBridge may use a queue, key or forward role only for this account."""
    for template, account in ((central, CENTRAL_ACCOUNT), (domain, DOMAIN_ACCOUNT)):
        for kind in ("AWS::SQS::QueuePolicy", "AWS::KMS::Key"):
            for res in _of_type(template, kind).values():
                doc = res["Properties"].get("PolicyDocument") or res["Properties"]["KeyPolicy"]
                for st in doc["Statement"]:
                    if "events.amazonaws.com" in json.dumps(st.get("Principal", {})):
                        assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == account
    forward = [
        r
        for k, r in _of_type(domain, "AWS::IAM::Role").items()
        if k.startswith("DomainForwardRole")
    ]
    assert len(forward) == 1
    st = forward[0]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == DOMAIN_ACCOUNT
    # The subscription rule is central's (it lives on the central bus): central is the source.
    (subscription,) = (
        r for k, r in _of_type(domain, "AWS::IAM::Role").items() if "SubscriptionRole" in k
    )
    st = subscription["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert st["Condition"]["StringEquals"] == {"aws:SourceAccount": CENTRAL_ACCOUNT}
    source = json.dumps(st["Condition"]["ArnLike"]["aws:SourceArn"])
    assert f":{CENTRAL_ACCOUNT}:rule/meshkit-demo-central/*" in source
    # Every events.amazonaws.com trust of both templates carries aws:SourceAccount.
    for template in (central, domain):
        for role in _of_type(template, "AWS::IAM::Role").values():
            for st in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                if "events.amazonaws.com" in json.dumps(st["Principal"]):
                    assert "aws:SourceAccount" in st["Condition"]["StringEquals"]


def test_ram_accept_only_central_invitations(domain: dict[str, Any]) -> None:
    statements = [
        st
        for p in _of_type(domain, "AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if "ram:AcceptResourceShareInvitation" in json.dumps(st["Action"])
    ]
    assert statements
    for st in statements:
        assert st["Action"] == "ram:AcceptResourceShareInvitation"
        assert st["Condition"] == {"StringEquals": {"ram:ShareOwnerAccountId": CENTRAL_ACCOUNT}}


@pytest.mark.parametrize("which", ["central", "domain"])
def test_guard_reads_and_changes_nothing(which: str, request: pytest.FixtureRequest) -> None:
    """The guard group's role: its logs, queues and key, its idempotency table, PutEvents on its
    own bus; no registry or state table, catalog, Lake Formation, RAM or S3."""
    template = request.getfixturevalue(which)
    (role,) = (k for k in _of_type(template, "AWS::IAM::Role") if "GuardRole" in k)
    statements = [
        s
        for p in _of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {a.split(":")[0] for a in actions} == {"logs", "sqs", "kms", "dynamodb", "events"}
    assert {a for a in actions if a.startswith("events:")} == {"events:PutEvents"}
    tables = {
        json.dumps(s["Resource"])
        for s in statements
        if any(a.startswith("dynamodb:") for a in s["Action"])
    }
    assert tables
    assert all("Idempotency" in t for t in tables), tables
    # not among the roles the stack offers as Lake Formation admins (test_lake_formation
    # checks the admins custom resource)
    assert role not in json.dumps(template.get("Outputs", {}))
