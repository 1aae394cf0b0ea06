"""DropZone: a domain's upload area for third parties (vended credentials, SFTP, validation)."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any, ClassVar

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_transfer as transfer

from constructs import Construct
from meshkit import topology
from meshkit.constructs import _code, _nag
from meshkit.constructs._handlers import (
    MeshHandler,
    drop_role_dependency,
    lambda_role,
    mesh_environment,
)
from meshkit.handlers.dropzone import (
    MAX_SESSION_SECONDS,
    MIN_SESSION_SECONDS,
    DropZoneSettings,
    session_policy,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from meshkit.constructs.domain import DataDomain
    from meshkit.runtime.config import MeshConfig

__all__ = ["DropZone"]

#: AWS caps a role-chained session at one hour, and the vending function's own credentials are
#: a role session: credentials it vends cannot outlive that.
_CHAINED_MAX = 3_600
_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/:-]+$")

_REASONS = {
    "partner-prefixes": "Partners upload objects whose names are theirs to choose, under "
    "prefixes of this one drop-zone bucket; each session is narrowed to one partner's prefix "
    "by its session policy (PutObject only).",
    "uploads": "The validator reads, copies and deletes uploads whose names partners choose, "
    "in this one drop-zone bucket, and writes accepted ones under the domain's data prefix.",
    "transfer-logs": "Transfer Family writes its structured logs to one log group with one "
    "stream per session, named by the service; scoped to that log group.",
}


def _acknowledge(scope: Construct, resources: list[str], key: str) -> None:
    for resource in resources:
        text = _nag.finding_text(scope, resource)
        _nag.acknowledge(scope, f"AwsSolutions-IAM5[Resource::{text}]", _REASONS[key])


class DropZone(Construct):
    """A drop zone for a domain's third-party partners.

    A bucket of its own (EventBridge notifications on), one ``<partner>/`` prefix per partner
    and a ``quarantine/`` prefix; a vending function URL (``AWS_IAM`` auth) issuing each partner
    temporary credentials limited by a session policy to ``s3:PutObject`` under its prefix;
    optionally an SFTP server (Transfer Family, Lambda identity provider, same role and session
    policy); and the ``dropzone`` handler group validating each upload (S3 ``Object Created``
    on the default bus): valid ones are moved under the product table's location and crawled,
    invalid ones quarantined with ``DropZoneUploadRejected``.
    """

    PROPS: ClassVar[dict[str, str]] = {
        "domain": "The DataDomain whose products the partners feed.",
        "partners": "Partner name -> `{product, table?, location?, format, max_bytes?, columns?, "
        "principals, public_keys?}`; `location` is relative to the domain's data prefix "
        "(default `<product>/<table>/`).",
        "max_session": "Longest credentials the API vends (15 minutes to 1 hour: they are "
        "role-chained).",
        "sftp": "Create a Transfer Family SFTP server with the Lambda identity provider.",
        "quarantine_expiry": "How long quarantined uploads are kept.",
        "removal_policy": "What happens to the drop-zone bucket on stack deletion.",
    }

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain: DataDomain,
        partners: Mapping[str, Mapping[str, Any]],
        max_session: Duration | None = None,
        sftp: bool = False,
        quarantine_expiry: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        # Server access logs delivered under a bucket policy, as in DataDomain.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        stack = Stack.of(self)
        seconds = int((max_session or Duration.hours(1)).to_seconds())
        if not MIN_SESSION_SECONDS <= seconds <= _CHAINED_MAX:
            raise ValueError(
                f"max_session={seconds}s: the API vends {MIN_SESSION_SECONDS}..{_CHAINED_MAX}s "
                "(AWS caps role-chained sessions at 1 hour; STS itself allows up to "
                f"{MAX_SESSION_SECONDS}s for sessions that are not chained)"
            )
        if not partners:
            raise ValueError("partners is empty: name at least one partner")
        self.domain = domain
        self.upload_role: iam.Role
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            # SSE-S3, not the domain key: partners (and Transfer) write without KMS grants.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="dropzone/",
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    prefix=topology.DROPZONE_QUARANTINE_PREFIX,
                    expiration=quarantine_expiry or Duration.days(90),
                ),
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30)),
            ],
        )
        # EventBridge notifications as a plain bucket property: the L2 flag would add CDK's
        # notification custom resource (a Lambda with an AWS managed policy) for no gain.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        setting = self._setting(partners, seconds, sftp)

        options = domain._options
        vending = self._function_role("Vending", options)
        idp = self._function_role("IdentityProvider", options) if sftp else None
        principals: list[iam.IPrincipal] = [iam.ArnPrincipal(vending[1].role_arn)]
        if sftp:
            principals.append(
                iam.ServicePrincipal(
                    "transfer.amazonaws.com",
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
        self.upload_role = iam.Role(
            self,
            "UploadRole",
            assumed_by=iam.CompositePrincipal(*principals),
            max_session_duration=Duration.hours(12),
            description=f"meshkit drop zone of {domain.domain_name}: partner uploads",
        )
        uploads = self.bucket.arn_for_objects("*")
        quarantine = self.bucket.arn_for_objects(topology.DROPZONE_QUARANTINE_PREFIX + "*")
        self.upload_role.add_to_policy(
            iam.PolicyStatement(sid="PartnerUploads", actions=["s3:PutObject"], resources=[uploads])
        )
        self.upload_role.add_to_policy(
            iam.PolicyStatement(
                sid="NeverQuarantine",
                effect=iam.Effect.DENY,
                actions=["s3:PutObject"],
                resources=[quarantine],
            )
        )
        _acknowledge(self.upload_role, [uploads], "partner-prefixes")
        self.vending = self._function(
            vending, "meshkit.handlers.dropzone.vend_handler", setting, options
        )
        self.vending.add_to_role_policy(
            iam.PolicyStatement(
                sid="VendPartnerSessions",
                actions=["sts:AssumeRole"],
                resources=[self.upload_role.role_arn],
            )
        )
        self.vending_url = self.vending.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.AWS_IAM
        )
        for n, arn in enumerate(
            sorted({p for spec in partners.values() for p in spec.get("principals", ())})
        ):
            self.vending.add_permission(
                f"PartnerInvoke{n}",
                principal=iam.ArnPrincipal(arn),
                action="lambda:InvokeFunctionUrl",
                function_url_auth_type=lambda_.FunctionUrlAuthType.AWS_IAM,
            )

        self.identity_provider: lambda_.Function | None = None
        self.server: transfer.CfnServer | None = None
        if idp is not None:
            self._sftp(idp, setting, options)

        self.validator = self._validator(setting, options)
        CfnOutput(self, "VendingUrl", value=self.vending_url.url, description="POST {partner}")
        CfnOutput(self, "BucketName", value=self.bucket.bucket_name, description="Drop zone")

    # -- settings --------------------------------------------------------------------------------

    def _setting(
        self, partners: Mapping[str, Mapping[str, Any]], seconds: int, sftp: bool
    ) -> dict[str, Any]:
        domain = self.domain
        specs: dict[str, dict[str, Any]] = {}
        for name, raw in partners.items():
            spec = dict(raw)
            for arn in spec.get("principals", ()):
                if Token.is_unresolved(arn) or not _ARN.match(arn):
                    raise ValueError(
                        f"partner {name!r}: principal {arn!r} is not an IAM or STS ARN written "
                        "out (the function URL's resource policy names it)"
                    )
            product = str(spec.pop("product", ""))
            table = str(spec.get("table") or product)
            location = str(spec.pop("location", f"{product}/{table}/"))
            if location.startswith("/") or not location.endswith("/"):
                raise ValueError(f"partner {name!r}: location {location!r}: relative, ending '/'")
            specs[name] = {
                **spec,
                "product": product,
                "target_uri": f"{domain.storage_uri}{location}",
            }
        setting = {
            "bucket": self.bucket.bucket_name,
            "max_session_seconds": seconds,
            "partners": specs,
            "sftp": sftp,
        }
        # The handlers' own parser checks everything now, with stand-ins for deploy-time names.
        stand_in = {
            **setting,
            "bucket": "sample-dropzone-bucket",
            "upload_role_arn": "arn:aws:iam::123456789012:role/sample",
            "partners": {
                n: {**s, "target_uri": "s3://sample-bucket/" + s["target_uri"].split("/", 3)[-1]}
                for n, s in specs.items()
            },
        }
        parsed = DropZoneSettings.of({"dropzone": stand_in})
        for name in parsed.partners:
            session_policy("x" * 63, name)  # the longest bucket name still fits in 2,048 chars
        return setting

    def _config(self, setting: Mapping[str, Any]) -> MeshConfig:
        domain = self.domain
        settings = {
            "storage_uri": domain.storage_uri,
            "dropzone": {**setting, "upload_role_arn": self.upload_role.role_arn},
        }
        return dataclasses.replace(domain.mesh_config, settings=settings)

    # -- functions -------------------------------------------------------------------------------

    def _function_role(self, id: str, options: Any) -> tuple[Construct, iam.Role, logs.LogGroup]:
        holder = Construct(self, id)
        log_group = logs.LogGroup(
            holder, "Logs", retention=options.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        role = lambda_role(
            holder,
            "Role",
            description=f"meshkit drop zone {id.lower()} of {self.domain.domain_name}",
            log_group=log_group,
        )
        self.domain.bus.grant_put_events_to(role)
        return holder, role, log_group

    def _function(
        self,
        parts: tuple[Construct, iam.Role, logs.LogGroup],
        handler: str,
        setting: Mapping[str, Any],
        options: Any,
    ) -> lambda_.Function:
        holder, role, log_group = parts
        function = lambda_.Function(
            holder,
            "Function",
            description=f"meshkit drop zone {holder.node.id.lower()} of {self.domain.domain_name}",
            runtime=options.runtime,
            architecture=options.architecture,
            handler=handler,
            code=_code.package_code(),
            layers=[
                _code.dependencies_layer(
                    holder,
                    "Powertools",
                    layer=options.dependencies_layer,
                    version=options.powertools_layer_version,
                    architecture=options.architecture,
                    runtime=options.runtime,
                )
            ],
            role=role,
            environment=mesh_environment(self, self._config(setting)),
            memory_size=256,
            timeout=Duration.seconds(15),
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
        )
        drop_role_dependency(function, role)
        _nag.acknowledge(function, "AwsSolutions-L1", _nag.REASONS["runtime"])
        return function

    def _sftp(
        self,
        parts: tuple[Construct, iam.Role, logs.LogGroup],
        setting: Mapping[str, Any],
        options: Any,
    ) -> None:
        idp = self._function(
            parts, "meshkit.handlers.dropzone.identity_provider_handler", setting, options
        )
        log_group = logs.LogGroup(
            self,
            "TransferLogs",
            retention=options.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        logging_role = iam.Role(
            self,
            "TransferLoggingRole",
            assumed_by=iam.ServicePrincipal(
                "transfer.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="Transfer Family writes the drop zone's SFTP logs",
        )
        log_streams = f"{log_group.log_group_arn}:*"
        logging_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                resources=[log_group.log_group_arn, log_streams],
            )
        )
        _acknowledge(logging_role, [log_streams], "transfer-logs")
        server = transfer.CfnServer(
            self,
            "SftpServer",
            identity_provider_type="AWS_LAMBDA",
            identity_provider_details=transfer.CfnServer.IdentityProviderDetailsProperty(
                function=idp.function_arn,
                sftp_authentication_methods="PUBLIC_KEY",
            ),
            protocols=["SFTP"],
            domain="S3",
            endpoint_type="PUBLIC",
            security_policy_name="TransferSecurityPolicy-2024-01",
            logging_role=logging_role.role_arn,
            structured_log_destinations=[log_group.log_group_arn],
        )
        idp.add_permission(
            "TransferInvoke",
            principal=iam.ServicePrincipal("transfer.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_arn=server.attr_arn,
            source_account=Stack.of(self).account,
        )
        self.identity_provider = idp
        self.server = server

    def _validator(self, setting: Mapping[str, Any], options: Any) -> MeshHandler:
        domain, stack = self.domain, Stack.of(self)
        group = topology.group("dropzone")
        handler = MeshHandler(
            self,
            "Validator",
            group=group,
            options=options,
            config=self._config(setting),
            description=f"meshkit {domain.mesh_name} {domain.domain_name} dropzone",
        )
        handler.add_rule(
            "UploadRule",
            description="dropzone: partners' uploads",
            event_pattern=topology.dropzone_pattern(bucket=self.bucket.bucket_name),
        )
        uploads = self.bucket.arn_for_objects("*")
        products = domain.bucket.arn_for_objects(domain.data_prefix + "*")
        crawlers = (
            f"arn:{stack.partition}:glue:{stack.region}:{stack.account}:crawler/"
            + topology.crawler_name(domain.mesh_name, domain.domain_name, "")
            + "*"
        )
        handler.add_to_role_policy(
            iam.PolicyStatement(
                sid="Uploads",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[uploads],
            ),
            iam.PolicyStatement(sid="Products", actions=["s3:PutObject"], resources=[products]),
            iam.PolicyStatement(
                sid="CrawlProducts", actions=["glue:StartCrawler"], resources=[crawlers]
            ),
        )
        if domain.bucket.encryption_key is not None:
            domain.bucket.encryption_key.grant_encrypt(handler.role)
        domain.state.grant_read_data(handler.role)
        domain.idempotency.grant_read_write_data(handler.role)
        domain.bus.grant_put_events_to(handler.role)
        _acknowledge(handler.role, [uploads, products], "uploads")
        _nag.acknowledge_resources(handler.role, [crawlers], "crawlers")
        _nag.acknowledge_resources(handler.role, [f"{domain.state.table_arn}/index/*"], "ddb-index")
        return handler
