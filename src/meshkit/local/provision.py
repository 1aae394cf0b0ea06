"""Provisioning of central and domain accounts on moto, from ``meshkit.topology`` alone.

Every bus, rule (with the topology's pattern), queue, table, bucket and role created here is one
the CDK constructs create in the cloud; nothing else is created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from meshkit import topology
from meshkit.events.aws import (
    GlueCrawlerStateChange,
    S3ObjectCreated,
    S3ObjectDeleted,
    ScheduledEvent,
)
from meshkit.local.accounts import internal_calls
from meshkit.runtime.tables import (
    IDEMPOTENCY_TABLE,
    STATE_TABLE,
    SUBJECT_INDEX_TABLE,
    TTL_ATTRIBUTE,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meshkit.events.base import EventDetail
    from meshkit.local.accounts import Account

__all__ = [
    "MAX_RECEIVE_COUNT",
    "CentralResources",
    "DomainResources",
    "QueueWiring",
    "bucket_name",
    "provision_central",
    "provision_domain",
    "provision_group",
]

#: SQS redrive: the third failed receive sends the message to the group's DLQ.
MAX_RECEIVE_COUNT = 3


@dataclass(frozen=True)
class QueueWiring:
    """A handler group's deployment in one account: its rules feed this queue (and DLQ)."""

    group: str
    account: str
    domain: str | None
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    #: (bus name, rule name) of every rule targeting the queue.
    rules: tuple[tuple[str, str], ...]


@dataclass
class CentralResources:
    account: str
    bus_name: str
    bus_arn: str
    archive_name: str
    registry_table: str
    idempotency_table: str
    #: Secrets Manager secret holding central's erasure key (keyed hashes in the record).
    erasure_secret: str = ""
    #: The role central's Lake Formation registers each domain's storage with.
    location_role_arn: str = ""
    groups: dict[str, QueueWiring] = field(default_factory=dict)


@dataclass
class DomainResources:
    account: str
    domain: str
    bus_name: str
    bus_arn: str
    bucket: str
    storage_uri: str
    state_table: str
    idempotency_table: str
    crawler_role_arn: str
    principals: dict[str, str]
    forward_rule: str
    subscription_rule: str
    subject_index_table: str = ""
    erasure_secret: str = ""
    groups: dict[str, QueueWiring] = field(default_factory=dict)


def bucket_name(mesh: str, domain: str, account: str) -> str:
    # Domain names may hold "_", which S3 bucket names may not.
    return f"{mesh}-{domain}-{account}".replace("_", "-").lower()


def _bus_arn(region: str, account: str, bus: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{bus}"


def _put_rule(
    events: Any,
    *,
    name: str,
    bus: str,
    target_arn: str,
    pattern: dict[str, Any] | None = None,
    schedule: str | None = None,
    description: str = "",
) -> None:
    kwargs: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": "ENABLED"}
    if pattern is not None:
        kwargs["EventPattern"] = json.dumps(pattern)
    if schedule is not None:
        kwargs["ScheduleExpression"] = schedule
    if description:
        kwargs["Description"] = description
    events.put_rule(**kwargs)
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "target", "Arn": target_arn}])


def _create_queue(account: Account, name: str) -> tuple[str, str, str, str]:
    sqs = account.client("sqs")
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_arn = f"arn:aws:sqs:{account.region}:{account.account_id}:{name}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeSends",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            }
        ],
    }
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
            "Policy": json.dumps(policy),
        },
    )["QueueUrl"]
    return queue_url, queue_arn, dlq_url, dlq_arn


def _create_table(account: Account, name: str, shape: dict[str, Any]) -> None:
    ddb = account.client("dynamodb")
    ddb.create_table(TableName=name, **shape)
    ddb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


def provision_group(
    account: Account,
    *,
    name: str,
    queue_name: str,
    domain: str | None,
    mesh_rules: Sequence[tuple[str, str, dict[str, Any]]],
    default_rules: Sequence[tuple[str, dict[str, Any] | None, str | None]] = (),
) -> QueueWiring:
    """A queue with its DLQ and the rules feeding it.

    ``mesh_rules``: (bus, rule name, pattern); ``default_rules`` on the default bus:
    (rule name, pattern, schedule expression).
    """
    with internal_calls():
        queue_url, queue_arn, dlq_url, dlq_arn = _create_queue(account, queue_name)
        events = account.client("events")
        rules: list[tuple[str, str]] = []
        for bus, rule, pattern in mesh_rules:
            _put_rule(events, name=rule, bus=bus, target_arn=queue_arn, pattern=pattern)
            rules.append((bus, rule))
        for rule, default_pattern, schedule in default_rules:
            _put_rule(
                events,
                name=rule,
                bus="default",
                target_arn=queue_arn,
                pattern=default_pattern,
                schedule=schedule,
            )
            rules.append(("default", rule))
    return QueueWiring(
        group=name,
        account=account.account_id,
        domain=domain,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        rules=tuple(rules),
    )


def _erasure_secret(account: Account, name: str) -> str:
    """The account's erasure key (what the constructs create as a generated secret)."""
    import secrets

    answer = account.client("secretsmanager").create_secret(
        Name=name, SecretString=secrets.token_hex(32)
    )
    return str(answer["ARN"])


def _aws_event_rules(
    prefix: str,
    aws_events: Sequence[type[EventDetail]],
    *,
    mesh: str,
    domain: str | None,
    storage: tuple[str, str] | None = None,
) -> list[tuple[str, dict[str, Any] | None, str | None]]:
    """Default-bus rules for a group's AWS service events, as the constructs create them."""
    rules: list[tuple[str, dict[str, Any] | None, str | None]] = []
    others: list[type[EventDetail]] = []
    storage_rule = False
    for model in aws_events:
        if model in (S3ObjectCreated, S3ObjectDeleted) and storage is not None:
            if not storage_rule:
                bucket, prefix_ = storage
                rules.append(
                    (
                        f"{prefix}-storage",
                        topology.storage_pattern(bucket=bucket, prefix=prefix_),
                        None,
                    )
                )
                storage_rule = True
        elif model is ScheduledEvent:
            rules.append((f"{prefix}-schedule", None, topology.SWEEP_SCHEDULE))
        elif model is GlueCrawlerStateChange and domain is not None:
            rules.append(
                (f"{prefix}-crawler", topology.crawler_pattern(mesh=mesh, domain=domain), None)
            )
        else:
            others.append(model)
    if others:
        rules.append((f"{prefix}-aws", topology.pattern_for(others), None))
    return rules


def provision_central(
    account: Account, *, mesh: str, features: Sequence[str] = ()
) -> CentralResources:
    """Central bus (+ archive), central group queues and rules, schedule, registry tables."""
    bus = f"{mesh}-central"
    res = CentralResources(
        account=account.account_id,
        bus_name=bus,
        bus_arn=_bus_arn(account.region, account.account_id, bus),
        archive_name=f"{mesh}-central-archive",
        registry_table=f"{mesh}-registry",
        idempotency_table=f"{mesh}-central-idempotency",
        location_role_arn=f"arn:aws:iam::{account.account_id}:role/{mesh}-location",
    )
    with internal_calls():
        account.client("iam").create_role(
            RoleName=f"{mesh}-location",
            AssumeRolePolicyDocument=json.dumps(_trust({"Service": "lakeformation.amazonaws.com"})),
            Description="Lake Formation access to the domains' data (registered locations)",
        )
        events = account.client("events")
        events.create_event_bus(Name=bus)
        # The archive keeps every event on the central bus, so any flow can be replayed.
        events.create_archive(ArchiveName=res.archive_name, EventSourceArn=res.bus_arn)
        _create_table(account, res.registry_table, STATE_TABLE)
        _create_table(account, res.idempotency_table, IDEMPOTENCY_TABLE)
        res.erasure_secret = _erasure_secret(account, f"{mesh}-central-erasure-key")
    for g in topology.groups_for("central", features):
        prefix = f"{mesh}-{g.env_name}"
        mesh_rules = []
        if g.events:
            mesh_rules.append(
                (bus, prefix, topology.central_group_pattern(g, central_account=account.account_id))
            )
        if g.guard:
            pattern = topology.guard_pattern(
                "central", central_account=account.account_id, account=account.account_id
            )
            mesh_rules.append((bus, prefix, pattern))
        if g.operator_events:
            mesh_rules.append((bus, f"{prefix}-operator", topology.operator_pattern(g)))
        if g.own_events:
            mesh_rules.append(
                (bus, f"{prefix}-own", topology.own_pattern(g, account=account.account_id))
            )
        res.groups[g.name] = provision_group(
            account,
            name=g.name,
            queue_name=prefix,
            domain=None,
            mesh_rules=mesh_rules,
            default_rules=_aws_event_rules(prefix, g.aws_events, mesh=mesh, domain=None),
        )
    return res


def provision_domain(
    account: Account,
    central: Account,
    central_res: CentralResources,
    *,
    mesh: str,
    domain: str,
    principals: Sequence[str],
    features: Sequence[str] = (),
) -> DomainResources:
    """A domain's bus and rules (forward, subscription, groups, crawler), bucket, roles, tables."""
    acct = account.account_id
    bus = f"{mesh}-{domain}"
    bucket = bucket_name(mesh, domain, acct)
    res = DomainResources(
        account=acct,
        domain=domain,
        bus_name=bus,
        bus_arn=_bus_arn(account.region, acct, bus),
        bucket=bucket,
        storage_uri=f"s3://{bucket}/products/",
        state_table=f"{mesh}-{domain}-state",
        idempotency_table=f"{mesh}-{domain}-idempotency",
        subject_index_table=f"{mesh}-{domain}-subject-index",
        crawler_role_arn=f"arn:aws:iam::{acct}:role/{mesh}-{domain}-crawler",
        principals={p: f"arn:aws:iam::{acct}:role/{mesh}-{domain}-{p}" for p in principals},
        forward_rule=f"{mesh}-{domain}-forward",
        subscription_rule=f"{mesh}-{domain}-subscription",
    )
    with internal_calls():
        events = account.client("events")
        events.create_event_bus(Name=bus)
        _put_rule(
            events,
            name=res.forward_rule,
            bus=bus,
            target_arn=central_res.bus_arn,
            pattern=topology.forward_pattern(domain_account=acct),
            description=f"{domain}: what this account emits, to central",
        )
        # On AWS the domain's stack owns this rule on the central bus (cross-account PutRule,
        # allowed by the bus policy); moto has no cross-account PutRule, so central creates it.
        _put_rule(
            central.client("events"),
            name=res.subscription_rule,
            bus=central_res.bus_name,
            target_arn=res.bus_arn,
            pattern=topology.subscription_pattern(
                domain_account=acct, central_account=central.account_id
            ),
            description=f"{domain}: events central addresses to {acct}",
        )
        s3 = account.client("s3")
        create: dict[str, Any] = {"Bucket": bucket}
        if account.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": account.region}
        s3.create_bucket(**create)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        # S3 -> EventBridge: the subject index follows Object Created / Object Deleted.
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        # As the DataDomain construct: central's location role may use the data prefix, and
        # central may call HeadBucket (its ownership check). Stored, not enforced.
        central_account = f"arn:aws:iam::{central.account_id}:root"
        location_role = {"ArnEquals": {"aws:PrincipalArn": central_res.location_role_arn}}
        s3.put_bucket_policy(
            Bucket=bucket,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "CentralLakeFormationObjects",
                            "Effect": "Allow",
                            "Principal": {"AWS": central_account},
                            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                            "Resource": f"arn:aws:s3:::{bucket}/products/*",
                            "Condition": location_role,
                        },
                        {
                            "Sid": "CentralOwnershipCheck",
                            "Effect": "Allow",
                            "Principal": {"AWS": central_account},
                            "Action": "s3:ListBucket",
                            "Resource": f"arn:aws:s3:::{bucket}",
                        },
                    ],
                }
            ),
        )
        iam = account.client("iam")
        for principal in principals:
            iam.create_role(
                RoleName=f"{mesh}-{domain}-{principal}",
                AssumeRolePolicyDocument=json.dumps(_trust({"AWS": f"arn:aws:iam::{acct}:root"})),
                Description=f"{domain} data consumer principal {principal}",
            )
        iam.create_role(
            RoleName=f"{mesh}-{domain}-crawler",
            AssumeRolePolicyDocument=json.dumps(_trust({"Service": "glue.amazonaws.com"})),
            Description=f"{domain} Glue crawler",
        )
        _create_table(account, res.state_table, STATE_TABLE)
        _create_table(account, res.idempotency_table, IDEMPOTENCY_TABLE)
        _create_table(account, res.subject_index_table, SUBJECT_INDEX_TABLE)
        res.erasure_secret = _erasure_secret(account, f"{mesh}-{domain}-erasure-key")
    for g in topology.groups_for("domain", features):
        prefix = f"{mesh}-{domain}-{g.env_name}"
        mesh_rules = []
        if g.events:
            mesh_rules.append(
                (bus, prefix, topology.domain_group_pattern(g, central_account=central.account_id))
            )
        if g.guard:
            pattern = topology.guard_pattern(
                "domain", central_account=central.account_id, account=acct
            )
            mesh_rules.append((bus, prefix, pattern))
        if g.own_events:
            mesh_rules.append((bus, f"{prefix}-own", topology.own_pattern(g, account=acct)))
        res.groups[g.name] = provision_group(
            account,
            name=g.name,
            queue_name=prefix,
            domain=domain,
            mesh_rules=mesh_rules,
            default_rules=_aws_event_rules(
                prefix,
                g.aws_events,
                mesh=mesh,
                domain=domain,
                storage=(bucket, res.storage_uri.removeprefix(f"s3://{bucket}/")),
            ),
        )
    return res


def _trust(principal: dict[str, str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }
