"""CentralGovernance: the governance account's bus, registry, handlers, archive and schemas."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any, ClassVar, cast

from aws_cdk import CfnCustomResource, CfnOutput, Duration, RemovalPolicy, Stack, Token, region_info
from aws_cdk import aws_events as events
from aws_cdk import aws_eventschemas as eventschemas
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from meshkit import topology
from meshkit.constructs import _admins, _code, _iam, _nag, _resources, _schemas
from meshkit.constructs import datazone as _datazone
from meshkit.constructs._handlers import (
    COMMON_PROPS,
    CustomHandler,
    DeliveryDeadLetters,
    HandlerOptions,
    MeshHandler,
)
from meshkit.events import erasure
from meshkit.events.aws import DATAZONE_EVENTS, ScheduledEvent
from meshkit.runtime.config import MeshConfig

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns

    from meshkit.constructs.datazone import DataZoneSettings
    from meshkit.events.base import EventDetail

__all__ = ["CentralGovernance"]

_ACCOUNT = re.compile(r"\A[0-9]{12}\Z")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_DOMAIN = re.compile(r"\A[a-z][a-z0-9_]{0,62}\Z")
#: Lambda's environment holds 4 KB in all; leave the other variables and settings room.
_MAX_BINDINGS_CHARS = 2_500
#: No separator character: a mesh name is joined to domain names with ``_`` (Glue database
#: names) and ``-`` (crawler names), so ``a-b`` + ``c`` and ``a`` + ``b-c`` could not both exist.
_MESH = re.compile(r"^[a-z0-9]{1,31}$")

#: EventBridge's default quota "Event bus policy size", in characters (adjustable;
#: docs/deploy.md): the allowlist is checked against the policy's real size at synth.
BUS_POLICY_LIMIT = 10_240

#: The Regions without EventBridge Schemas: not in the endpoint list of the ``schemas`` service
#: (botocore's endpoints data, the AWS General Reference page "Amazon EventBridge Schemas
#: endpoints and quotas") nor in the CloudFormation resource schemas (cfn-lint's
#: ``AWS::EventSchemas::Registry``), although EventBridge itself is there (docs/deploy.md).
REGIONS_WITHOUT_SCHEMAS = frozenset(
    {
        "ap-east-2",
        "ap-south-2",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-west-1",
        "il-central-1",
        "mx-central-1",
    }
)
#: Partitions where EventBridge Schemas is in no Region (same sources).
PARTITIONS_WITHOUT_SCHEMAS = frozenset({"aws-iso", "aws-iso-b", "aws-eusc"})

#: Stand-ins measuring the policy when the stack's environment is unresolved: the longest
#: partition and Region names there are, so the estimate errs on the large side.
_LONGEST_PARTITION = "aws-us-gov"
_LONGEST_REGION = "us-isof-south-1"

#: What the AWS::Events::Rule resource handlers call on a rule (the resource schema's
#: create/read/update/delete permissions, docs/deploy.md); Enable/DisableRule for state changes.
RULE_HANDLER_ACTIONS = (
    "events:PutRule",
    "events:PutTargets",
    "events:DescribeRule",
    "events:DeleteRule",
    "events:RemoveTargets",
    "events:ListTargetsByRule",
    "events:TagResource",
    "events:UntagResource",
    "events:ListTagsForResource",
    "events:EnableRule",
    "events:DisableRule",
)


#: The erasure events people send to central (the operator rule).
_ERASURE_OPERATOR_EVENTS = (
    erasure.ErasureRequested,
    erasure.ErasureApproved,
    erasure.ErasureCancelled,
)


def _check_mesh_name(mesh_name: str) -> None:
    if not _MESH.match(mesh_name):
        raise ValueError(
            f"mesh_name={mesh_name!r}: use 1-31 lowercase letters or digits, no '-' or '_' "
            "(it is joined to domain names in bus, database and crawler names)"
        )


class CentralGovernance(Construct):
    """The mesh's governance account: central bus, registry, central handlers.

    Domains join at run time (``DomainRegistrationRequested``): nothing here grows with the
    number of domains. Who may join is an AWS Organization (``organization_id``, optionally
    narrowed by ``organization_paths``) or an explicit ``member_accounts`` allowlist.
    """

    #: Descriptions of the keyword props, for the construct reference.
    PROPS: ClassVar[dict[str, str]] = {
        "mesh_name": "Name of the mesh; several meshes may share an account and region.",
        "organization_id": "AWS Organization whose accounts may join (`aws:PrincipalOrgID`).",
        "organization_paths": "Narrow the organization to these OU paths "
        "(`aws:PrincipalOrgPaths`, e.g. `o-xxx/r-xxx/ou-xxx/*`).",
        "member_accounts": "Explicit allowlist of domain accounts: at most what fits the "
        "10,240-character bus policy (about 140, checked at synth; use an organization beyond).",
        "domain_accounts": "Domain name -> account id: only that account may register the "
        "name; a name not in the map is refused (fail closed). Carried to the central handlers "
        "in `MESHKIT_SETTINGS` (about 90 names fit Lambda's 4 KB environment).",
        "organization_management_account": "Read AWS Organizations (membership and OU paths) "
        "by assuming `organization_reader_role_name` in this account; by default central calls "
        "Organizations itself, as a delegated administrator (docs/silos.md).",
        "organization_reader_role_name": "The reader role in the management account.",
        "membership_cache": "How long central trusts one account's membership answer "
        "(default 5 minutes): an account moved out of the OUs is refused at most this late.",
        "archive_retention": "How long the archive of every mesh event is kept (for replays).",
        "removal_policy": "What happens to the registry table and the key on stack deletion.",
        "datazone": "Publish products to Amazon DataZone domains of this account, or of the "
        "account `DataZoneSettings.account` (with `DataZoneAccountAccess` deployed there): "
        "deploys `central.publication` (docs/datazone.md).",
        "handler_settings": "Extra policy settings for the central handlers "
        "(`approval_policy`, `request_ttl_days`, ...), passed in `MESHKIT_SETTINGS`.",
        "erasure_requesters": "Accounts besides central that may send `ErasureRequested` "
        "(and cancel); non-members get a bus-policy statement limited to those events.",
        "erasure_approvers": "Accounts besides central that may send `ErasureApproved` (and "
        "cancel); restrict the roles with `grant_erasure_approve`.",
        "erasure_auto_approve": "Approve erasure plans by policy, without an approver.",
        "bus_policy_limit": "The account's EventBridge quota 'Event bus policy size' "
        "(characters; 10,240 unless raised): the allowlist must fit in it.",
        "schema_registry": "Publish the event schemas to an EventBridge Schemas registry; "
        "default: where the Region has EventBridge Schemas (docs/deploy.md lists those without).",
        **COMMON_PROPS,
    }

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        mesh_name: str,
        organization_id: str | None = None,
        organization_paths: Sequence[str] = (),
        member_accounts: Sequence[str] = (),
        domain_accounts: Mapping[str, str] | None = None,
        organization_management_account: str | None = None,
        organization_reader_role_name: str = "meshkit-organization-reader",
        membership_cache: Duration | None = None,
        archive_retention: Duration | None = None,
        alarm_topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        handler_settings: Mapping[str, Any] | None = None,
        datazone: DataZoneSettings | None = None,
        erasure_requesters: Sequence[str] = (),
        erasure_approvers: Sequence[str] = (),
        erasure_auto_approve: bool = False,
        schema_registry: bool | None = None,
        bus_policy_limit: int = 10_240,
        register_data_lake_admins: bool = False,
        data_lake_admins: Sequence[str] = (),
        max_receive_count: int = 5,
        architecture: lambda_.Architecture | None = None,
        runtime: lambda_.Runtime | None = None,
        powertools_layer_version: int = _code.DEFAULT_POWERTOOLS_LAYER_VERSION,
        dependencies_layer: lambda_.ILayerVersion | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, id)
        _check_mesh_name(mesh_name)
        self._check_members(organization_id, organization_paths, member_accounts)
        stack = Stack.of(self)
        self.mesh_name = mesh_name
        self.organization_id = organization_id
        self.organization_paths = tuple(organization_paths)
        self.member_accounts = tuple(member_accounts)
        self.domain_accounts = self._check_domain_accounts(domain_accounts or {}, member_accounts)

        self.key = _resources.mesh_key(
            self, "Key", description=f"meshkit {mesh_name} central", removal=removal_policy
        )
        self.registry = _resources.state_table(
            self, "Registry", key=self.key, removal=removal_policy
        )
        self.idempotency = _resources.idempotency_table(self, "Idempotency", key=self.key)

        self.bus = events.EventBus(
            self, "Bus", event_bus_name=_resources.central_bus_name(mesh_name)
        )
        bad = [a for a in (*erasure_requesters, *erasure_approvers) if not _ACCOUNT.match(a)]
        if bad:
            raise ValueError(f"erasure_requesters/erasure_approvers {bad} are not account ids")
        self.erasure_requesters = tuple(erasure_requesters)
        self.erasure_approvers = tuple(erasure_approvers)
        self._add_bus_policy(organization_paths)
        self._check_bus_policy_size(bus_policy_limit)
        archived = topology.archive_pattern()
        self.archive = events.Archive(
            self,
            "Archive",
            source_event_bus=self.bus,
            description=f"Every meshkit {mesh_name} event on the central bus, for replays, "
            "except those carrying a data subject's identifiers.",
            event_pattern=events.EventPattern(
                source=archived["source"],
                detail_type=events.Match.anything_but(*archived["detail-type"][0]["anything-but"]),
            ),
            retention=archive_retention or Duration.days(365),
        )
        # The erasure key: keyed hashes of data subjects in the erasure record.
        self.erasure_key = secretsmanager.Secret(
            self,
            "ErasureKey",
            # A fixed name: central's settings stay a plain string (no token to resolve).
            secret_name=f"meshkit/{mesh_name}/central/erasure-key",
            description=f"meshkit {mesh_name}: key of the erasure record's keyed hashes",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=removal_policy,
        )
        _nag.acknowledge(self.erasure_key, "AwsSolutions-SMG4", _nag.REASONS["erasure-key"])
        self.schema_registry = (
            self._add_schema_registry() if self._wants_schema_registry(schema_registry) else None
        )

        self.delivery_dead_letters = DeliveryDeadLetters(
            self, "DeliveryDeadLetters", key=self.key, alarm_topic=alarm_topic
        )
        self.subscription_dead_letters = self._subscription_dead_letters(alarm_topic)
        self._options = HandlerOptions.from_props(
            key=self.key,
            dead_letters=self.delivery_dead_letters,
            alarm_topic=alarm_topic,
            max_receive_count=max_receive_count,
            architecture=architecture,
            runtime=runtime,
            powertools_layer_version=powertools_layer_version,
            dependencies_layer=dependencies_layer,
            log_retention=log_retention,
        )
        self.location_role = self._location_role()
        settings: dict[str, Any] = dict(handler_settings or {})
        # The name, not the ARN (a token): the handlers derive the ARN in their own account.
        settings["location_role_name"] = self.location_role_name
        if organization_id:
            settings["organization_id"] = organization_id
            settings["organization_paths"] = list(organization_paths)
            settings["organization_cache_seconds"] = int(
                (membership_cache or Duration.minutes(5)).to_seconds()
            )
            if organization_management_account:
                settings["organization_management_account"] = organization_management_account
        elif organization_management_account:
            raise ValueError(
                "organization_management_account is where central reads AWS Organizations: "
                "it needs organization_id"
            )
        if member_accounts:
            settings["member_accounts"] = list(member_accounts)
        # Always set, empty included: the handlers refuse every name the map does not hold.
        settings["domain_accounts"] = dict(self.domain_accounts)
        features: list[str] = []
        if datazone is not None:
            features.append("datazone")
            settings["datazone"] = datazone.handler_settings()
        self.datazone = datazone
        if erasure_requesters:
            settings["erasure_requesters"] = list(erasure_requesters)
        if erasure_approvers:
            settings["erasure_approvers"] = list(erasure_approvers)
        if erasure_auto_approve:
            settings["erasure_approval"] = "auto"
        settings["erasure_secret"] = f"meshkit/{mesh_name}/central/erasure-key"
        #: The handlers' configuration (group, DLQ and team settings are set per function).
        self.mesh_config = MeshConfig(
            mesh_name=mesh_name,
            role="central",
            account_id=stack.account,
            region=stack.region,
            central_account=stack.account,
            bus=self.bus.event_bus_arn,
            central_bus=self.bus.event_bus_arn,
            registry_table=self.registry.table_name,
            idempotency_table=self.idempotency.table_name,
            max_receive_count=max_receive_count,
            cross_account_role_name=(
                organization_reader_role_name
                if organization_id and organization_management_account
                else None
            ),
            settings=settings,
        )
        self.handlers: dict[str, MeshHandler] = {}
        remote_datazone = datazone is not None and datazone.remote(stack.account)
        for group in topology.groups_for("central", features):
            publishes = datazone is not None and DATAZONE_EVENTS[0] in group.aws_events
            group_config, role_name = self.mesh_config, None
            if publishes and remote_datazone:
                # DataZone in its own account: this group assumes the role there (and only
                # this group: the organisation reader role stays with the others).
                group_config = dataclasses.replace(
                    self.mesh_config,
                    cross_account_role_name=_datazone.datazone_access_role_name(mesh_name),
                )
                role_name = _datazone.publication_role_name(mesh_name)
            handler = MeshHandler(
                self,
                _construct_id(group.name),
                group=group,
                options=self._options,
                config=group_config,
                description=f"meshkit {mesh_name} {group.name}",
                role_name=role_name,
            )
            if group.guard:
                # Reads and changes nothing: its idempotency records, its bus, its DLQ only.
                handler.add_rule(
                    "GuardRule",
                    description=f"{group.name}: meshkit events with no business on this bus",
                    event_pattern=topology.guard_pattern(
                        "central", central_account=stack.account, account=stack.account
                    ),
                    event_bus=self.bus,
                )
                self.idempotency.grant_read_write_data(handler.role)
                self.bus.grant_put_events_to(handler.role)
                self.handlers[group.name] = handler
                continue
            if group.events:
                handler.add_rule(
                    "MeshRule",
                    description=f"{group.name}: events from domains",
                    event_pattern=topology.central_group_pattern(
                        group, central_account=stack.account
                    ),
                    event_bus=self.bus,
                )
            if group.operator_events:
                handler.add_rule(
                    "OperatorRule",
                    description=f"{group.name}: events people send (sender checked)",
                    event_pattern=topology.operator_pattern(group),
                    event_bus=self.bus,
                )
            if group.own_events:
                handler.add_rule(
                    "OwnRule",
                    description=f"{group.name}: central's own decisions",
                    event_pattern=topology.own_pattern(group, account=stack.account),
                    event_bus=self.bus,
                )
            if datazone is not None and publishes:
                handler.add_rule(
                    "DataZoneRule",
                    description=f"{group.name}: DataZone's events for the mesh's domains",
                    event_pattern=topology.pattern_for(
                        DATAZONE_EVENTS,
                        account=[datazone.account or stack.account],
                        detail={"metadata": {"domain": list(datazone.domain_ids)}},
                    ),
                )
                handler.add_to_role_policy(
                    *_datazone.datazone_statements(
                        self, datazone.domain_ids, account=datazone.account, mesh_name=mesh_name
                    )
                )
                if remote_datazone:
                    self._accept_datazone_events(str(datazone.account))
            if ScheduledEvent in group.aws_events:
                handler.add_rule(
                    "SweepSchedule",
                    description=f"{group.name}: sweep expired requests and grants",
                    schedule=topology.SWEEP_SCHEDULE,
                )
            self._grant_central(handler)
            if organization_id:
                membership = _iam.membership_statements(
                    self,
                    organization_id=organization_id,
                    management_account=organization_management_account,
                    reader_role_name=organization_reader_role_name,
                )
                handler.add_to_role_policy(*membership)
                _nag.acknowledge_resources(
                    handler.role,
                    [r for st in membership for r in st.resources if r.endswith("/*")],
                    "org-members",
                )
            self.handlers[group.name] = handler

        self.data_lake_settings: CfnCustomResource | None = None
        if register_data_lake_admins:
            self.data_lake_settings = self._register_admins(data_lake_admins)

        CfnOutput(self, "BusArn", value=self.bus.event_bus_arn, description="Central bus ARN")
        CfnOutput(
            self,
            "HandlerRoleArns",
            value=",".join(r.role_arn for r in self._lake_roles()),
            description="Roles to make Lake Formation data lake administrators (deploy.md)",
        )

    # -- validation ------------------------------------------------------------------------------

    @staticmethod
    def _check_members(
        organization_id: str | None, paths: Sequence[str], accounts: Sequence[str]
    ) -> None:
        if bool(organization_id) == bool(accounts):
            raise ValueError(
                "set exactly one of organization_id (an AWS Organization, e.g. 'o-abc123def4') "
                "or member_accounts (an allowlist of 12-digit account ids)"
            )
        if organization_id and not _ORG.match(organization_id):
            raise ValueError(f"organization_id={organization_id!r} is not an 'o-...' id")
        if paths and not organization_id:
            raise ValueError("organization_paths narrow an organization: set organization_id")
        bad = [a for a in accounts if not _ACCOUNT.match(a)]
        if bad:
            raise ValueError(f"member_accounts {bad} are not 12-digit account ids")

    @staticmethod
    def _check_domain_accounts(
        bindings: Mapping[str, str], members: Sequence[str]
    ) -> dict[str, str]:
        bad_names = sorted(n for n in bindings if not _DOMAIN.match(n))
        if bad_names:
            raise ValueError(
                f"domain_accounts names {bad_names} are not domain names (a lower-case letter, "
                "then lower-case letters, digits or '_', at most 63)"
            )
        bad = sorted(f"{n}={a}" for n, a in bindings.items() if not _ACCOUNT.match(str(a)))
        if bad:
            raise ValueError(f"domain_accounts {bad}: accounts are 12-digit account ids")
        outside = sorted(f"{n}={a}" for n, a in bindings.items() if members and a not in members)
        if outside:
            raise ValueError(
                f"domain_accounts {outside} name accounts that are not in member_accounts; "
                "add them there too (a bound account must also be a member)"
            )
        size = len(json.dumps(dict(bindings), separators=(",", ":")))
        if size > _MAX_BINDINGS_CHARS:
            raise ValueError(
                f"domain_accounts takes {size} characters of the handlers' environment; at most "
                f"{_MAX_BINDINGS_CHARS} fit beside the other settings in Lambda's 4 KB "
                "environment: split the mesh (mesh_name) or shorten domain names"
            )
        return dict(sorted(bindings.items()))

    def _wants_schema_registry(self, wanted: bool | None) -> bool:
        stack = Stack.of(self)
        where = (
            stack.partition
            if not Token.is_unresolved(stack.partition)
            and stack.partition in PARTITIONS_WITHOUT_SCHEMAS
            else stack.region
            if not Token.is_unresolved(stack.region) and stack.region in REGIONS_WITHOUT_SCHEMAS
            else None
        )
        if where is None:
            return wanted is not False
        if wanted:
            raise ValueError(
                f"schema_registry=True: EventBridge Schemas is not available in {where} "
                "(docs/deploy.md); leave schema_registry unset or False there"
            )
        return False

    # -- bus policy ------------------------------------------------------------------------------

    def _members(self) -> list[iam.IPrincipal]:
        """The member principals: anyone (narrowed by the organization conditions) or the
        allowlisted accounts."""
        if self.organization_id:
            return [iam.AnyPrincipal()]
        return [iam.AccountPrincipal(a) for a in self.member_accounts]

    def _add_bus_statement(self, statement: iam.PolicyStatement) -> None:
        self._bus_statements.append(statement.to_statement_json())
        self.bus.add_to_resource_policy(statement)

    def _add_bus_policy(self, organization_paths: Sequence[str]) -> None:
        self._bus_statements: list[dict[str, Any]] = []
        stack = Stack.of(self)
        principals = self._members()
        org: dict[str, Any] = {}
        if self.organization_id:
            org["StringEquals"] = {"aws:PrincipalOrgID": self.organization_id}
            if organization_paths:
                org["ForAnyValue:StringLike"] = {"aws:PrincipalOrgPaths": list(organization_paths)}
        self._add_bus_statement(
            iam.PolicyStatement(
                sid="MembersPutEvents",
                actions=["events:PutEvents"],
                principals=principals,
                resources=[self.bus.event_bus_arn],
                conditions=org or None,
            )
        )
        outsiders = sorted(
            {*self.erasure_requesters, *self.erasure_approvers} - set(self.member_accounts)
        )
        if outsiders:
            # Erasure requesters and approvers outside the mesh's members: the operator events
            # only (the handler checks which of them each account may send).
            self._add_bus_statement(
                iam.PolicyStatement(
                    sid="ErasureOperatorsPutEvents",
                    actions=["events:PutEvents"],
                    principals=[iam.AccountPrincipal(a) for a in outsiders],
                    resources=[self.bus.event_bus_arn],
                    conditions={
                        "StringEquals": {
                            "events:source": [erasure.SOURCE],
                            "events:detail-type": sorted(
                                m.DETAIL_TYPE for m in _ERASURE_OPERATOR_EVENTS
                            ),
                        }
                    },
                )
            )
        # Each domain owns its subscription rule on this bus (routing without a central
        # resource per domain); creatorAccount pins every rule to the account that made it.
        # The actions are what the AWS::Events::Rule resource handlers call (create, read,
        # update, delete: see docs/deploy.md), plus Enable/DisableRule for state changes.
        rules = f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/"
        # PutRule only for patterns on meshkit's own sources, PutTargets only towards the
        # caller's own account. ForAllValues holds when the key is absent, so one statement
        # carries both conditions for every action (one principal list: the 10 KB policy cap).
        self._add_bus_statement(
            iam.PolicyStatement(
                sid="MembersManageOwnRules",
                actions=list(RULE_HANDLER_ACTIONS),
                principals=principals,
                resources=[f"{rules}{self.bus.event_bus_name}/*"],
                conditions={
                    **org,
                    "StringEqualsIfExists": {"events:creatorAccount": "${aws:PrincipalAccount}"},
                    "ForAllValues:StringEquals": {"events:source": list(topology.MESH_SOURCES)},
                    "ForAllValues:ArnLike": {
                        "events:TargetArn": [
                            f"arn:{stack.partition}:events:*:${{aws:PrincipalAccount}}:*"
                        ]
                    },
                },
            )
        )

    def bus_policy_size(self) -> int:
        """Characters of the central bus's resource policy as EventBridge stores it (compact
        JSON, every statement), with the longest partition and Region names standing in for
        an unresolved environment."""
        stack = Stack.of(self)
        bus = cast("events.CfnEventBus", self.bus.node.default_child)
        bus_id = stack.resolve(bus.logical_id)
        region = _LONGEST_REGION if Token.is_unresolved(stack.region) else stack.region
        partition = (
            region_info.RegionInfo.get(region).partition or _LONGEST_PARTITION
            if region != _LONGEST_REGION
            else _LONGEST_PARTITION
        )
        names = {
            "AWS::Partition": partition,
            "AWS::Region": region,
            "AWS::AccountId": "123456789012",
            bus_id: _resources.central_bus_name(self.mesh_name),
        }
        arn = _resources.central_bus_arn(
            self.mesh_name, account="123456789012", region=region, partition=partition
        )

        def flat(value: Any) -> Any:
            if isinstance(value, list):
                return [flat(v) for v in value]
            if isinstance(value, dict):
                if set(value) == {"Ref"} and value["Ref"] in names:
                    return names[value["Ref"]]
                if set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] == bus_id:
                    return arn
                if set(value) == {"Fn::Join"}:
                    sep, parts = value["Fn::Join"]
                    return sep.join(str(flat(p)) for p in parts)
                return {k: flat(v) for k, v in value.items()}
            return value

        statements = [
            {"Sid": f"cdk-{st['Sid']}", **{k: v for k, v in st.items() if k != "Sid"}}
            for st in flat(stack.resolve(self._bus_statements))
        ]
        text = json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))
        if "Ref" in text or "Fn::" in text:
            raise ValueError(f"bus policy size: an unexpected intrinsic is left in {text[:300]}")
        return len(text)

    def _check_bus_policy_size(self, limit: int) -> None:
        size = self.bus_policy_size()
        if size > limit:
            raise ValueError(
                f"{len(self.member_accounts)} member_accounts make the central bus policy "
                f"{size} characters, over EventBridge's limit of {limit} (the quota 'Event bus "
                "policy size'; set bus_policy_limit if you raised it): use "
                "organization_id (and organization_paths), whose policy does not grow with "
                "the number of accounts"
            )

    def _subscription_dead_letters(self, alarm_topic: sns.ITopic | None) -> DeliveryDeadLetters:
        """The dead-letter queue of the domains' subscription rules.

        Those rules live on the central bus (each domain's stack owns its own), and EventBridge
        needs a rule's DLQ in the rule's account: one queue here, with a fixed name the domains
        address, for every rule of the central bus; nothing per domain.
        """
        stack = Stack.of(self)
        queue = DeliveryDeadLetters(
            self,
            "SubscriptionDeadLetters",
            key=self.key,
            alarm_topic=alarm_topic,
            queue_name=_resources.subscription_dlq_name(self.mesh_name),
        )
        rules = f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/"
        queue.allow(f"{rules}{self.bus.event_bus_name}/*", like=True)
        return queue

    # -- data locations --------------------------------------------------------------------------

    def _member_resources(self) -> dict[str, Any]:
        """IAM conditions limiting a statement to resources of the mesh's accounts."""
        if self.organization_id:
            conditions: dict[str, Any] = {
                "StringEquals": {"aws:ResourceOrgID": self.organization_id}
            }
            if self.organization_paths:
                conditions["ForAnyValue:StringLike"] = {
                    "aws:ResourceOrgPaths": list(self.organization_paths)
                }
            return conditions
        return {"StringEquals": {"aws:ResourceAccount": list(self.member_accounts)}}

    def _location_role(self) -> iam.Role:
        """The role central's Lake Formation registers each domain's storage with.

        Lake Formation vends credentials for a table's data from the registrations of the
        account whose catalog holds the table, and registering another account's location
        needs a role of the registering account (docs/deploy.md): central's. Its name is fixed
        so that each domain's bucket and key policy can trust it; the domains' policies grant
        only their own data prefix.
        """
        stack = Stack.of(self)
        self.location_role_name = _resources.location_role_name(self.mesh_name, stack.region)
        role = iam.Role(
            self,
            "LocationRole",
            role_name=self.location_role_name,
            # Confused-deputy guard: Lake Formation assumes it for this account's registrations
            # only (the aws:SourceAccount AWS shows for roles Lake Formation assumes to vend
            # credentials; docs/deploy.md, to confirm on a first deployment).
            assumed_by=iam.ServicePrincipal(
                "lakeformation.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description=f"Lake Formation access to the data of meshkit {self.mesh_name} domains",
        )
        s3 = f"arn:{stack.partition}:s3:::"
        keys = f"arn:{stack.partition}:kms:{stack.region}:*:key/*"
        members = self._member_resources()
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DomainObjects",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[f"{s3}*/*"],
                conditions=members,
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DomainListing",
                actions=["s3:ListBucket"],
                resources=[f"{s3}*"],
                conditions=members,
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DomainKeys",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[keys],
                conditions={
                    **members,
                    "StringLike": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"},
                },
            )
        )
        _nag.acknowledge_resources(role, [f"{s3}*/*", f"{s3}*", keys], "member-data")
        return role

    # -- schemas ---------------------------------------------------------------------------------

    def _add_schema_registry(self) -> eventschemas.CfnRegistry:
        registry = eventschemas.CfnRegistry(
            self, "SchemaRegistry", description=f"meshkit {self.mesh_name} event contract"
        )
        for name, content in _schemas.mesh_schemas().items():
            eventschemas.CfnSchema(
                self,
                f"Schema{_construct_id(name)}",
                registry_name=registry.attr_registry_name,
                schema_name=name,
                type="JSONSchemaDraft4",
                content=content,
                description=f"meshkit event {name}",
            )
        return registry

    # -- IAM -------------------------------------------------------------------------------------

    def _accept_datazone_events(self, account: str) -> None:
        """Central's default bus accepts DataZone's events forwarded by the DataZone account
        (``DataZoneAccountAccess``), and nothing else from it."""
        stack = Stack.of(self)
        events.CfnEventBusPolicy(
            self,
            "DataZoneForwarding",
            event_bus_name="default",
            statement_id=f"meshkit-{self.mesh_name}-datazone-{account}",
            statement={
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{stack.partition}:iam::{account}:root"},
                "Action": "events:PutEvents",
                "Resource": (
                    f"arn:{stack.partition}:events:{stack.region}:{stack.account}:event-bus/default"
                ),
                "Condition": {"StringEquals": {"events:source": ["aws.datazone"]}},
            },
        )

    def _grant_central(self, handler: MeshHandler) -> None:
        role = handler.role
        self.registry.grant_read_write_data(role)
        self.idempotency.grant_read_write_data(role)
        self.bus.grant_put_events_to(role)
        if handler.group.name == "central.erasure":
            self.erasure_key.grant_read(role)
        statements = _iam.central_group_statements(self, handler.group.name)
        if statements:
            handler.add_to_role_policy(*statements)
        if handler.group.name == "central.onboarding":
            # Onboarding registers each domain's storage with the location role, after checking
            # that the domain's account owns the bucket.
            buckets = f"arn:{Stack.of(self).partition}:s3:::*"
            handler.add_to_role_policy(
                iam.PolicyStatement(
                    sid="DataLocations",
                    actions=[
                        "lakeformation:RegisterResource",
                        "lakeformation:DeregisterResource",
                        "lakeformation:DescribeResource",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="PassLocationRole",
                    actions=["iam:PassRole"],
                    resources=[self.location_role.role_arn],
                    conditions={
                        "StringEquals": {"iam:PassedToService": "lakeformation.amazonaws.com"}
                    },
                ),
                iam.PolicyStatement(
                    sid="BucketOwner",
                    # HeadBucket with ExpectedBucketOwner (the onboarding ownership check).
                    actions=["s3:ListBucket"],
                    resources=[buckets],
                    conditions=self._member_resources(),
                ),
            )
            _nag.acknowledge_resources(role, [buckets], "bucket-owner")
        _nag.acknowledge_resources(role, [f"{self.registry.table_arn}/index/*"], "ddb-index")
        if _iam.CENTRAL_GROUP_ACTIONS[handler.group.name].glue:
            _nag.acknowledge_resources(role, _iam.catalog_arns(self)[1:], "glue-runtime")
        _nag.acknowledge_resources(role, ["*"], "no-resource-level")

    def _lake_roles(self) -> list[iam.IRole]:
        """The handler roles that act in Lake Formation (every group but the guard)."""
        return [h.role for h in self.handlers.values() if not h.group.guard]

    def _register_admins(self, extra: Sequence[str]) -> CfnCustomResource:
        """Add ``extra`` and the handler roles to the account's data-lake admins, merged into
        what is there (other stacks' admins and every other setting are kept)."""
        return _admins.data_lake_admins(
            self,
            "DataLakeAdmins",
            admins=[*extra, *(r.role_arn for r in self._lake_roles())],
            architecture=self._options.architecture,
            runtime=self._options.runtime,
            log_retention=self._options.log_retention,
        )

    # -- public API ------------------------------------------------------------------------------

    @property
    def handler_roles(self) -> list[iam.IRole]:
        return [h.role for h in self.handlers.values()]

    def grant_put_events(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put events on the central bus."""
        return self.bus.grant_put_events_to(grantee)

    def add_handler(
        self,
        models: type[EventDetail] | Sequence[type[EventDetail]],
        function: lambda_.IFunction,
        *,
        id: str | None = None,
        settings: Mapping[str, Any] | Any = None,
        any_sender: bool = False,
    ) -> CustomHandler:
        """Subscribe a team's own ``function`` to ``models`` on the central bus.

        ``function.add_event_source(MeshEventSource(self, models, ...))``: the rule(s), a queue
        with its DLQ and alarm, the event source mapping with partial batch responses, and the
        function configured for meshkit's router (see ``MeshEventSource``; a ``MeshFunction``
        ships meshkit with its code). ``settings`` (a dict or a pydantic model) reach the
        handler as ``ctx.config`` settings. An event only central sends is matched from
        central's account unless ``any_sender``. Returns what was created.
        """
        from meshkit.constructs.team import add_handler

        return add_handler(self, models, function, id=id, settings=settings, any_sender=any_sender)

    @property
    def handler_options(self) -> HandlerOptions:
        """The Lambda options of this construct's handlers (team functions take them too)."""
        return self._options

    def grant_erasure_request(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to request and cancel erasures on the central bus (nothing else)."""
        return self._grant_erasure(grantee, erasure.ErasureRequested, erasure.ErasureCancelled)

    def grant_erasure_approve(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to approve and cancel erasures on the central bus (nothing else)."""
        return self._grant_erasure(grantee, erasure.ErasureApproved, erasure.ErasureCancelled)

    def _grant_erasure(self, grantee: iam.IGrantable, *models: type[EventDetail]) -> iam.Grant:
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["events:PutEvents"],
            resource_arns=[self.bus.event_bus_arn],
            conditions={
                "StringEquals": {
                    "events:source": [erasure.SOURCE],
                    "events:detail-type": sorted(m.DETAIL_TYPE for m in models),
                }
            },
        )

    @property
    def encryption_key(self) -> kms.IKey:
        return self.key

    @property
    def registry_table(self) -> dynamodb.ITable:
        return self.registry


def _construct_id(name: str) -> str:
    """``central.onboarding`` -> ``CentralOnboarding`` (construct ids are public API)."""
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)
