"""DataDomain: a producer/consumer account's bus, routing, storage, crawler role and handlers."""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any, ClassVar, cast

from aws_cdk import Annotations, CfnCustomResource, CfnOutput, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr

from constructs import Construct
from meshkit import topology
from meshkit.constructs import _admins, _code, _iam, _nag, _resources
from meshkit.constructs._handlers import (
    COMMON_PROPS,
    CustomHandler,
    DeliveryDeadLetters,
    HandlerOptions,
    MeshHandler,
    drop_role_dependency,
    events_principal,
    lambda_role,
    target_delivery,
)
from meshkit.constructs._registration import Registration
from meshkit.constructs.central import _check_mesh_name, _construct_id
from meshkit.events import access, domains
from meshkit.events.aws import GlueCrawlerStateChange, S3ObjectCreated
from meshkit.events.envelope import to_put_events_entry
from meshkit.events.publication import DomainPublicationConfigured
from meshkit.runtime.config import MeshConfig

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns

    from meshkit.constructs.datazone import DataZonePublishing
    from meshkit.events.base import EventDetail, MeshEvent

__all__ = ["DataDomain"]

_ACCOUNT = re.compile(r"\A[0-9]{12}\Z")
_DOMAIN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Stand-ins used only to validate the registration event when values are CDK tokens.
_SAMPLE_ACCOUNT = "123456789012"
_SAMPLE_BUCKET = "meshkit-sample-bucket"
_SAMPLE_DOMAIN = "sample_domain"


class DataDomain(Construct):
    """One data domain (producer and/or consumer) in its own account.

    Routing: a *forward* rule sends what this account emits to the central bus; this domain's
    *subscription* rule, which it owns on the central bus, sends back what central addresses to
    this account. Deploying registers: ``DomainRegistrationRequested``, sent again until
    central's answer is recorded (the deployment fails if it never comes); deleting sends
    ``DomainDeregistrationRequested`` last, once every other resource of the stack is gone
    (docs/deploy.md, "Registration").
    """

    PROPS: ClassVar[dict[str, str]] = {
        "mesh_name": "Name of the mesh (as given to CentralGovernance).",
        "domain_name": "The domain's name (lowercase, digits, `_`): its central database name. "
        "May be a CloudFormation value resolved at deploy time (see `DomainStackSet`).",
        "central_account": "Account id of the governance account.",
        "central_region": "Region of the central bus (default: this stack's region).",
        "sharing_mode": "Default sharing mode of the domain's products: `named` or `tag`.",
        "crawler": "Create the crawler role and the crawler-state rule (producer domains).",
        "bucket": "An existing bucket for the data products (default: a new one).",
        "data_prefix": "Prefix under which data products live in the bucket.",
        "consumer_principals": "IAM role ARNs of this account the consumer handler may grant.",
        "organization_id": "Set when central and domain share an AWS Organization "
        "(RAM invitations are then accepted implicitly).",
        "owner": "Team or contact owning the domain (sent with the registration).",
        "description": "What the domain is about (sent with the registration).",
        "removal_policy": "What happens to the bucket, state table and key on stack deletion.",
        "handler_settings": "Extra settings for the domain handlers (`MESHKIT_SETTINGS`); "
        "`approval_topic_arn`: an SNS topic the producer notifies of access requests awaiting "
        "a decision (its role may publish there).",
        "datazone": "Publish this domain's products to a DataZone project and receive that "
        "project's subscriptions as access requests (`DataZonePublishing`; docs/datazone.md).",
        "pyarrow_layer": "Layer bringing pyarrow to the erasure handler (default: the AWS SDK "
        "for pandas layer, version `pyarrow_layer_version`).",
        "pyarrow_layer_version": "Version of the AWS SDK for pandas layer in this region "
        "(versions differ per region; see its layer list).",
        **COMMON_PROPS,
    }

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        mesh_name: str,
        domain_name: str,
        central_account: str,
        central_region: str | None = None,
        sharing_mode: domains.SharingMode = "named",
        crawler: bool = True,
        bucket: s3.IBucket | None = None,
        data_prefix: str = "products/",
        consumer_principals: Sequence[str] = (),
        organization_id: str | None = None,
        owner: str | None = None,
        description: str | None = None,
        alarm_topic: sns.ITopic | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        handler_settings: Mapping[str, Any] | None = None,
        datazone: DataZonePublishing | None = None,
        pyarrow_layer: lambda_.ILayerVersion | None = None,
        pyarrow_layer_version: int = _code.DEFAULT_SDK_PANDAS_LAYER_VERSION,
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
        # Server access logs are delivered under a bucket policy, not the legacy ACL (which
        # would force ObjectWriter ownership on the log bucket).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        _check_mesh_name(mesh_name)
        # A token (a StackSet parameter, an account-derived name) is checked where it resolves:
        # central validates the registration event and rejects a bad name with its reason.
        if not Token.is_unresolved(domain_name) and not _DOMAIN.match(domain_name):
            raise ValueError(
                f"domain_name={domain_name!r}: use a lowercase letter then letters, digits or "
                "'_' (at most 63; it becomes a Glue database name)"
            )
        if not _ACCOUNT.match(central_account):
            raise ValueError(f"central_account={central_account!r} is not a 12-digit account id")
        if sharing_mode not in ("named", "tag"):
            raise ValueError(f"sharing_mode={sharing_mode!r}: use 'named' or 'tag'")
        if not data_prefix.endswith("/") or data_prefix.startswith("/"):
            raise ValueError(f"data_prefix={data_prefix!r}: a relative prefix ending in '/'")
        stack = Stack.of(self)
        if central_region is not None and central_region != stack.region:
            # The subscription rule lives on the central bus in central's account: EventBridge
            # does not let a rule in one account and region deliver to a bus of another account
            # in another region (docs/deploy.md), so the mesh would silently miss events.
            raise ValueError(
                f"central_region={central_region!r} differs from this stack's region "
                f"{stack.region!r}: a cross-account, cross-region subscription rule cannot "
                "deliver; deploy the domain in the central bus's region"
            )
        self.mesh_name = mesh_name
        self.domain_name = domain_name
        self.central_account = central_account
        self.account = stack.account
        self._central_region = central_region or stack.region
        self.central_bus_arn = _resources.central_bus_arn(
            mesh_name,
            account=central_account,
            region=central_region or stack.region,
            partition=stack.partition,
        )
        self.central_bus = events.EventBus.from_event_bus_arn(
            self, "CentralBus", self.central_bus_arn
        )

        self.key = _resources.mesh_key(
            self,
            "Key",
            description=f"meshkit {mesh_name} domain {domain_name}",
            removal=removal_policy,
        )
        self.state = _resources.state_table(self, "State", key=self.key, removal=removal_policy)
        self.idempotency = _resources.idempotency_table(self, "Idempotency", key=self.key)
        # The subject index (docs/erasure.md): identifier hash -> objects, kept by S3 events.
        self.subject_index = _resources.subject_index_table(
            self, "SubjectIndex", key=self.key, removal=removal_policy
        )
        self.erasure_key = secretsmanager.Secret(
            self,
            "ErasureKey",
            description=f"meshkit {mesh_name} {domain_name}: key of the subject index hashes",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=removal_policy,
        )
        _nag.acknowledge(self.erasure_key, "AwsSolutions-SMG4", _nag.REASONS["erasure-key"])
        self.bus = events.EventBus(self, "Bus")

        self.bucket = bucket or self._create_bucket(removal_policy)
        self.data_prefix = data_prefix
        self.storage_uri = f"s3://{self.bucket.bucket_name}/{data_prefix}"
        self._trust_central_locations(central_region or stack.region)
        self.crawler_role = self._crawler_role() if crawler else None

        self.delivery_dead_letters = DeliveryDeadLetters(
            self, "DeliveryDeadLetters", key=self.key, alarm_topic=alarm_topic
        )
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
            pyarrow_layer=pyarrow_layer,
            pyarrow_layer_version=pyarrow_layer_version,
        )
        settings: dict[str, Any] = {
            **dict(handler_settings or {}),
            "storage_uri": self.storage_uri,
            "sharing_mode": sharing_mode,
            "principals": list(consumer_principals),
            "subject_index_table": self.subject_index.table_name,
            "erasure_secret": self.erasure_key.secret_arn,
        }
        if self.crawler_role is not None:
            settings["crawler_role_arn"] = self.crawler_role.role_arn
        if organization_id:
            settings["organization_id"] = organization_id
        features: list[str] = []
        self.datazone = datazone
        if datazone is not None:
            features.append("datazone")
            datazone.event(domain_name)  # refuses bad settings at synth, naming the field
            subscribers = list(datazone.subscriber_principals or consumer_principals[:1])
            if not subscribers:
                raise ValueError(
                    "datazone=DataZonePublishing(...): name subscriber_principals (or "
                    "consumer_principals) to receive DataZone subscriptions"
                )
            settings["datazone_principals"] = subscribers
        #: The handlers' configuration (group, DLQ and team settings are set per function).
        self.mesh_config = MeshConfig(
            mesh_name=mesh_name,
            role="domain",
            account_id=stack.account,
            region=stack.region,
            central_account=central_account,
            bus=self.bus.event_bus_arn,
            central_bus=self.central_bus_arn,
            domain=domain_name,
            registry_table=self.state.table_name,
            idempotency_table=self.idempotency.table_name,
            max_receive_count=max_receive_count,
            settings=settings,
        )
        self.handlers: dict[str, MeshHandler] = {}
        for group in topology.groups_for("domain", features):
            handler = MeshHandler(
                self,
                _construct_id(group.name),
                group=group,
                options=self._options,
                config=self.mesh_config,
                description=f"meshkit {mesh_name} {domain_name} {group.name}",
            )
            if group.guard:
                # Reads and changes nothing: its idempotency records, its bus, its DLQ only.
                handler.add_rule(
                    "GuardRule",
                    description=f"{group.name}: meshkit events with no business on this bus",
                    event_pattern=topology.guard_pattern(
                        "domain", central_account=central_account, account=stack.account
                    ),
                    event_bus=self.bus,
                )
                self.idempotency.grant_read_write_data(handler.role)
                self.bus.grant_put_events_to(handler.role)
                self.handlers[group.name] = handler
                continue
            handler.add_rule(
                "MeshRule",
                description=f"{group.name}: events from central",
                event_pattern=topology.domain_group_pattern(group, central_account=central_account),
                event_bus=self.bus,
            )
            if group.own_events:
                handler.add_rule(
                    "OwnRule",
                    description=f"{group.name}: events this domain sends itself",
                    event_pattern=topology.own_pattern(group, account=stack.account),
                    event_bus=self.bus,
                )
            if S3ObjectCreated in group.aws_events:
                handler.add_rule(
                    "StorageRule",
                    description=f"{group.name}: object events of the data prefix",
                    event_pattern=topology.storage_pattern(
                        bucket=self.bucket.bucket_name, prefix=data_prefix
                    ),
                )
            if crawler and GlueCrawlerStateChange in group.aws_events:
                handler.add_rule(
                    "CrawlerRule",
                    description=f"{group.name}: this domain's crawlers finished",
                    event_pattern=topology.crawler_pattern(mesh=mesh_name, domain=domain_name),
                )
            self._grant_domain(handler)
            self.handlers[group.name] = handler

        self.forward_rule, self.subscription_rule = self._route()
        self.registration = self._registration(sharing_mode, owner, description)
        self.publication = self._publication(datazone) if datazone is not None else None

        self.data_lake_settings: CfnCustomResource | None = None
        if register_data_lake_admins:
            # Merged into the account's admins (several domains may share an account).
            self.data_lake_settings = _admins.data_lake_admins(
                self,
                "DataLakeAdmins",
                admins=[*data_lake_admins, *(r.role_arn for r in self._lake_roles())],
                architecture=self._options.architecture,
                runtime=self._options.runtime,
                log_retention=self._options.log_retention,
            )
        CfnOutput(self, "BusArn", value=self.bus.event_bus_arn, description="Domain bus ARN")
        CfnOutput(
            self,
            "HandlerRoleArns",
            value=",".join(r.role_arn for r in self._lake_roles()),
            description="Roles to make Lake Formation data lake administrators (deploy.md)",
        )

    # -- storage ---------------------------------------------------------------------------------

    def _create_bucket(self, removal: RemovalPolicy) -> s3.Bucket:
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # Server access log delivery only supports SSE-S3 on the target bucket.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        )
        data = s3.Bucket(
            self,
            "Data",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="data/",
            removal_policy=removal,
        )
        # S3 -> EventBridge, so the subject index follows Object Created / Object Deleted. On
        # the L1 bucket: the L2 flag would add CDK's notification custom resource (a Lambda
        # with an AWS managed policy) for what the bucket's own property does.
        cfn = cast("s3.CfnBucket", data.node.default_child)
        cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
        return data

    def _prefix_arn(self) -> str:
        return self.bucket.arn_for_objects(self.data_prefix + "*")

    def _trust_central_locations(self, central_region: str) -> None:
        """Let central's Lake Formation location role reach this domain's data prefix.

        The product tables live in central's catalog, so central's Lake Formation is the one
        that registers this storage and vends credentials for it (docs/deploy.md, "Data
        locations"); registering another account's bucket needs a role of the registering
        account, which this bucket's policy (and key policy) must trust. The role is named
        after the mesh: trusted by ARN condition on central's account, so the policies do not
        depend on the role existing yet. Central also calls ``HeadBucket`` (``s3:ListBucket``)
        with ``ExpectedBucketOwner``, to check that this account owns the bucket it registers.
        """
        stack = Stack.of(self)
        self.central_location_role_arn = _resources.location_role_arn(
            self.mesh_name,
            account=self.central_account,
            region=central_region,
            partition=stack.partition,
        )
        central = iam.AccountPrincipal(self.central_account)
        only_location_role = {"ArnEquals": {"aws:PrincipalArn": self.central_location_role_arn}}
        statements = [
            iam.PolicyStatement(
                sid="CentralLakeFormationObjects",
                principals=[central],
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[self._prefix_arn()],
                conditions=only_location_role,
            ),
            iam.PolicyStatement(
                sid="CentralLakeFormationListing",
                principals=[central],
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={
                    **only_location_role,
                    "StringLike": {"s3:prefix": [self.data_prefix + "*"]},
                },
            ),
            iam.PolicyStatement(
                sid="CentralOwnershipCheck",
                principals=[central],
                # HeadBucket is authorised as s3:ListBucket; GetBucketLocation would not do:
                # S3 answers it to the bucket owner only.
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
            ),
        ]
        added = [self.bucket.add_to_resource_policy(st).statement_added for st in statements]
        key = self.bucket.encryption_key
        if key is not None:
            added.append(
                key.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid="CentralLakeFormationData",
                        principals=[central],
                        actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                        resources=["*"],
                        conditions={
                            **only_location_role,
                            "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"},
                        },
                    )
                ).statement_added
            )
        if not all(added):
            Annotations.of(self).add_warning_v2(
                "meshkit:central-location-trust",
                f"bucket {self.bucket.node.path} (or its key) is imported: add to its bucket "
                f"policy and key policy the statements that trust {self.central_location_role_arn} "
                "on the data prefix, and let central read the bucket location (docs/deploy.md)",
            )

    def _crawler_role(self) -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "CrawlerRole",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Glue crawlers of meshkit domain {self.domain_name}",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadProducts", actions=["s3:GetObject"], resources=[self._prefix_arn()]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListProducts",
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [self.data_prefix + "*"]}},
            )
        )
        if self.bucket.encryption_key is not None:
            self.bucket.encryption_key.grant_decrypt(role)
        # Crawlers run with Lake Formation credentials against central's catalog, through the
        # resource links of this account's catalog.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="Catalogs",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                    "glue:CreatePartition",
                    "glue:BatchCreatePartition",
                    "glue:UpdatePartition",
                ],
                resources=[
                    *_iam.catalog_arns(self),
                    *_iam.catalog_arns(self, self.central_account),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="LakeFormationData", actions=["lakeformation:GetDataAccess"], resources=["*"]
            )
        )
        logs_arn = (
            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:"
            "log-group:/aws-glue/crawlers:*"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CrawlerLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[logs_arn],
            )
        )
        _nag.acknowledge_resources(role, [self._prefix_arn()], "s3-prefix")
        _nag.acknowledge_resources(
            role,
            [*_iam.catalog_arns(self)[1:], *_iam.catalog_arns(self, self.central_account)[1:]],
            "glue-runtime",
        )
        _nag.acknowledge_resources(role, ["*"], "no-resource-level")
        _nag.acknowledge_resources(role, [logs_arn], "glue-logs")
        return role

    # -- routing ---------------------------------------------------------------------------------

    def _route(self) -> tuple[events.CfnRule, events.CfnRule]:
        to_central = iam.Role(
            self,
            "ForwardRole",
            assumed_by=events_principal(self),
            description="EventBridge puts this domain's events on the central bus",
        )
        to_central.add_to_policy(
            iam.PolicyStatement(actions=["events:PutEvents"], resources=[self.central_bus_arn])
        )
        # L1 rules here: the subscription rule's EventBusName must be the central bus's ARN (the
        # L2 rule writes an imported bus's *name*, i.e. a bus of this account), and both carry
        # the topology pattern verbatim and dead-letter policies with aws:SourceAccount.
        forward = events.CfnRule(
            self,
            "ForwardRule",
            description=f"{self.domain_name}: what this account emits, to the central bus",
            event_bus_name=self.bus.event_bus_name,
            event_pattern=topology.forward_pattern(domain_account=self.account),
            state="ENABLED",
            targets=[
                events.CfnRule.TargetProperty(
                    arn=self.central_bus_arn,
                    id="CentralBus",
                    role_arn=to_central.role_arn,
                    **target_delivery(self.delivery_dead_letters.queue.queue_arn),
                )
            ],
        )
        self.delivery_dead_letters.allow(forward.attr_arn)
        to_domain = iam.Role(
            self,
            "SubscriptionRole",
            # Confused-deputy guard: the rule lives on the central bus, in central's account
            # (the account that owns the rule is the source account), and its name is CFN's:
            # any rule of the central bus (the bus policy lets only this account create rules
            # targeting this account's resources). To confirm on a first deployment
            # (docs/deploy.md).
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": self.central_account},
                    "ArnLike": {
                        "aws:SourceArn": self.central_bus_arn.replace(":event-bus/", ":rule/")
                        + "/*"
                    },
                },
            ),
            description="EventBridge puts central's events for this account on the domain bus",
        )
        self.bus.grant_put_events_to(to_domain)
        # Owned by this stack but living on the central bus (cross-account PutRule, allowed by
        # the central bus policy for rules this account creates): central holds nothing per
        # domain.
        subscription = events.CfnRule(
            self,
            "SubscriptionRule",
            description=f"{self.domain_name}: central events addressed to this account",
            event_bus_name=self.central_bus_arn,
            event_pattern=topology.subscription_pattern(
                domain_account=self.account, central_account=self.central_account
            ),
            state="ENABLED",
            targets=[
                events.CfnRule.TargetProperty(
                    arn=self.bus.event_bus_arn,
                    id="DomainBus",
                    role_arn=to_domain.role_arn,
                    # The rule is in central's account: so is its dead-letter queue (central's
                    # one queue for every subscription rule of the bus).
                    **target_delivery(
                        _resources.subscription_dlq_arn(
                            self.mesh_name,
                            account=self.central_account,
                            region=self._central_region,
                            partition=Stack.of(self).partition,
                        )
                    ),
                )
            ],
        )
        return forward, subscription

    # -- registration ----------------------------------------------------------------------------

    def _event_entry(
        self, model: type[MeshEvent], fields: dict[str, Any], *, bus: str | None = None
    ) -> str:
        """The PutEvents entry for ``model`` as JSON, via the contract's own envelope code.

        Account and bucket may be CDK tokens: the event is validated with stand-ins first, then
        built with the real (token) values so the template resolves them at deploy time.
        """
        stand_in = dict(fields)
        if Token.is_unresolved(stand_in.get("account_id")):
            stand_in["account_id"] = _SAMPLE_ACCOUNT
        if Token.is_unresolved(stand_in.get("domain")):
            stand_in["domain"] = _SAMPLE_DOMAIN
        if Token.is_unresolved(stand_in.get("correlation_id")):
            stand_in["correlation_id"] = f"{self.mesh_name}:{_SAMPLE_DOMAIN}"
        if "storage_uri" in stand_in and Token.is_unresolved(stand_in["storage_uri"]):
            stand_in["storage_uri"] = f"s3://{_SAMPLE_BUCKET}/{self.data_prefix}"
        model.model_validate(stand_in)
        event = model.model_construct(**fields)
        entry = to_put_events_entry(event, bus=bus or self.bus.event_bus_arn)
        return json.dumps(entry)

    def _registration(
        self, sharing_mode: str, owner: str | None, description: str | None
    ) -> Registration:
        """Confirmed registration and last-deleted deregistration (``constructs._registration``)."""
        # A stable correlation id per (mesh, domain): the template stays deterministic (the
        # registration replaces it per CloudFormation request: an update waits for its answer).
        correlation = (
            # Resolved per account at deploy time (mesh names and domain names fit the pattern).
            f"{self.mesh_name}:{self.domain_name}"
            if Token.is_unresolved(self.domain_name)
            else str(uuid.uuid5(uuid.NAMESPACE_URL, f"meshkit:{self.mesh_name}:{self.domain_name}"))
        )
        common = {
            "domain": self.domain_name,
            "account_id": self.account,
            "correlation_id": correlation,
            "schema_version": 1,
        }
        register = {
            **common,
            "storage_uri": self.storage_uri,
            "sharing_mode": sharing_mode,
            **({"owner": owner} if owner else {}),
            **({"description": description} if description else {}),
        }
        registration = Registration(
            self,
            "Registration",
            domain=self.domain_name,
            # Through this domain's bus and forward rule, as every event the domain sends.
            register_entry=self._event_entry(domains.DomainRegistrationRequested, register),
            # Straight to the central bus: deleted last, after the forward rule.
            deregister_entry=self._event_entry(
                domains.DomainDeregistrationRequested, common, bus=self.central_bus_arn
            ),
            state=self.state,
            key=self.key,
            domain_bus=self.bus,
            central_bus_arn=self.central_bus_arn,
            architecture=self._options.architecture,
            runtime=self._options.runtime,
            log_retention=self._options.log_retention,
        )
        # The request travels on the forward rule; the answer on the subscription rule to a
        # handler that records it in the state table.
        request = registration.request
        request.node.add_dependency(self.forward_rule)
        request.node.add_dependency(self.subscription_rule)
        for handler in self.handlers.values():
            request.node.add_dependency(handler)
        return registration

    def _publication(self, datazone: DataZonePublishing) -> cr.AwsCustomResource:
        """Tell central how to publish (on create and update); stop publishing on delete."""
        correlation = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"meshkit:{self.mesh_name}:{self.domain_name}:dz")
        )

        def call(enabled: bool) -> cr.AwsSdkCall:
            fields = datazone.event(self.domain_name, enabled=enabled).model_dump(
                mode="json", exclude_none=True
            )
            fields["correlation_id"] = correlation
            entry = json.loads(self._event_entry(DomainPublicationConfigured, fields))
            return cr.AwsSdkCall(
                service="EventBridge",
                action="putEvents",
                parameters={"Entries": [entry]},
                physical_resource_id=cr.PhysicalResourceId.of(
                    f"meshkit/{self.mesh_name}/{self.domain_name}/datazone"
                ),
            )

        resource = cr.AwsCustomResource(
            self,
            "Publication",
            role=_registration_role(self),
            log_group=cast("logs.ILogGroup", Stack.of(self).node.find_child(_LOGS_ID)),
            on_create=call(True),
            on_update=call(True),
            on_delete=call(False),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["events:PutEvents"], resources=[self.bus.event_bus_arn]
                    )
                ]
            ),
            install_latest_aws_sdk=False,
        )
        provider = Stack.of(self).node.try_find_child(_PROVIDER_ID)
        if provider is not None:
            drop_role_dependency(provider, _registration_role(self))
        # After the domain's registration: central needs the domain before its settings.
        resource.node.add_dependency(self.registration.request)
        return resource

    # -- IAM -------------------------------------------------------------------------------------

    def _lake_roles(self) -> list[iam.IRole]:
        """The handler roles that act in Lake Formation (every group but the guard)."""
        return [h.role for h in self.handlers.values() if not h.group.guard]

    def _grant_domain(self, handler: MeshHandler) -> None:
        role = handler.role
        stack = Stack.of(self)
        self.state.grant_read_write_data(role)
        self.idempotency.grant_read_write_data(role)
        self.bus.grant_put_events_to(role)
        statements = _iam.domain_group_statements(self, handler.group.name, self.central_account)
        if statements:
            handler.add_to_role_policy(*statements)
        _nag.acknowledge_resources(role, [f"{self.state.table_arn}/index/*"], "ddb-index")
        listed = _iam.DOMAIN_GROUP_ACTIONS[handler.group.name]
        catalogs = [
            *(_iam.catalog_arns(self)[1:] if listed.own_catalog else []),
            *(_iam.catalog_arns(self, self.central_account)[1:] if listed.central_catalog else []),
        ]
        if catalogs:
            _nag.acknowledge_resources(role, catalogs, "glue-runtime")
        if listed.lakeformation or listed.accepts_shares:
            _nag.acknowledge_resources(role, ["*"], "no-resource-level")
        if handler.group.name == "domain.erasure":
            self._grant_erasure(handler)
        if handler.group.name == "domain.producer" and self.crawler_role is not None:
            crawlers = (
                f"arn:{stack.partition}:glue:{stack.region}:{stack.account}:crawler/"
                + topology.crawler_name(self.mesh_name, self.domain_name, "")
                + "*"
            )
            handler.add_to_role_policy(
                iam.PolicyStatement(
                    sid="DomainCrawlers",
                    actions=[
                        "glue:CreateCrawler",
                        "glue:UpdateCrawler",
                        "glue:StartCrawler",
                    ],
                    resources=[crawlers],
                ),
                iam.PolicyStatement(
                    sid="PassCrawlerRole",
                    actions=["iam:PassRole"],
                    resources=[self.crawler_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
                ),
            )
            _nag.acknowledge_resources(role, [crawlers], "crawlers")
        topic = self.mesh_config.settings.get("approval_topic_arn")
        if handler.group.name == "domain.producer" and topic:
            # The approval inbox notifies data owners on this topic (meshkit.handlers.producer).
            handler.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ApprovalNotifications", actions=["sns:Publish"], resources=[str(topic)]
                )
            )

    def _grant_erasure(self, handler: MeshHandler) -> None:
        """Read, rewrite (conditionally), verify and delete versions of the data prefix; the
        subject index and the erasure key."""
        role = handler.role
        objects = self._prefix_arn()
        handler.add_to_role_policy(
            iam.PolicyStatement(
                sid="ErasureObjects",
                actions=[
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:PutObject",
                    "s3:DeleteObjectVersion",
                ],
                resources=[objects],
            ),
            iam.PolicyStatement(
                sid="ErasureListing",
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [self.data_prefix + "*"]}},
            ),
            iam.PolicyStatement(
                sid="ErasureVersioning",
                actions=["s3:GetBucketVersioning"],
                resources=[self.bucket.bucket_arn],
            ),
        )
        if self.bucket.encryption_key is not None:
            self.bucket.encryption_key.grant_encrypt_decrypt(role)
        self.subject_index.grant_read_write_data(role)
        self.erasure_key.grant_read(role)
        _nag.acknowledge_resources(role, [objects], "erasure-objects")
        _nag.acknowledge_resources(role, [f"{self.subject_index.table_arn}/index/*"], "ddb-index")

    # -- public API ------------------------------------------------------------------------------

    @property
    def handler_roles(self) -> list[iam.IRole]:
        return [h.role for h in self.handlers.values()]

    @property
    def encryption_key(self) -> kms.IKey:
        return self.key

    def grant_put_events(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to put any event on the domain bus (forwarded if it is a mesh one)."""
        return self.bus.grant_put_events_to(grantee)

    def grant_request_access(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to request access to data products: ``AccessRequested`` only.

        IAM's ``events:source`` and ``events:detail-type`` condition keys restrict PutEvents to
        that one event type.
        """
        model = access.AccessRequested
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["events:PutEvents"],
            resource_arns=[self.bus.event_bus_arn],
            conditions={
                "StringEquals": {
                    "events:source": [model.SOURCE],
                    "events:detail-type": [model.DETAIL_TYPE],
                }
            },
        )

    def add_handler(
        self,
        models: type[EventDetail] | Sequence[type[EventDetail]],
        function: lambda_.IFunction,
        *,
        id: str | None = None,
        settings: Mapping[str, Any] | Any = None,
        any_sender: bool = False,
    ) -> CustomHandler:
        """Subscribe a team's own ``function`` to ``models`` (mesh events on the domain bus, AWS
        service events on the default bus).

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


#: Construct id CDK gives the AwsCustomResource provider function (one per stack).
_PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"
_ROLE_ID = "MeshkitRegistrationRole"
_LOGS_ID = "MeshkitRegistrationLogs"


def _registration_role(scope: Construct) -> iam.Role:
    """One role (and log group) per stack for the publication custom resources.

    CDK's provider function is a singleton per stack, so its role must be too; an own role,
    because the provider's default one carries an AWS managed policy.
    """
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(_ROLE_ID)
    if isinstance(existing, iam.Role):
        return existing
    log_group = logs.LogGroup(
        stack,
        _LOGS_ID,
        retention=logs.RetentionDays.THREE_MONTHS,
        removal_policy=RemovalPolicy.DESTROY,
    )
    return lambda_role(
        stack,
        _ROLE_ID,
        description="Sends meshkit domain (de)registration events on deploy and delete",
        log_group=log_group,
    )
