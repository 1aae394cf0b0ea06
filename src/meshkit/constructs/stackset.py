"""DomainStackSet: every account of an OU becomes a domain by itself, through a StackSet.

The governance (or delegated-administrator) app holds one ``DomainStackSet``. It synthesizes a
``DataDomain`` as a Service Catalog *product stack* whose assets (the meshkit Lambda code, CDK's
custom-resource provider) are copied by a ``BucketDeployment`` into an assets bucket the
organisation may read, and deploys that template as a CloudFormation StackSet with
service-managed permissions and automatic deployment to the given OUs: an account created in, or
moved into, one of them gets the domain stack, which registers the domain with central; an
account moved out loses the stack (and deregisters), unless ``retain_stacks``.

Each account's domain name is resolved at deploy time, in that account:

* ``domain_name_source="account-id"`` (default): ``<domain_name_prefix>_<account id>``;
* ``domain_name_source="ssm"``: the String parameter ``ssm_parameter`` of that account (an
  account factory writes it from the account's tag or name; the stack fails without it).

Synth-time checks (:func:`check_stackset_template`, run on the synthesized domain template by the
``StackSetTemplateChecks`` validation plugin this construct registers on its app): no asset outside
the organisation's assets bucket, no bootstrap parameter or rule (member accounts are not CDK
bootstrapped), no ``Fn::ImportValue``, every ``Ref`` a declared parameter, resource or pseudo
parameter, every parameter without a default given a value, the template within
CloudFormation's 1 MB for a ``TemplateURL``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import jsii
from aws_cdk import (
    Aws,
    CfnParameter,
    Fn,
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    RemovalPolicy,
    Stack,
    Stage,
    Token,
    Validations,
)
from aws_cdk import aws_cloudformation as cfn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicecatalog as servicecatalog

from constructs import Construct
from meshkit.constructs import _nag
from meshkit.constructs._handlers import drop_role_dependency
from meshkit.constructs.domain import DataDomain

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

__all__ = ["DomainStackSet", "StackSetTemplateChecks", "check_stackset_template"]

#: CloudFormation's limit on a template given by URL.
MAX_TEMPLATE_URL_BYTES = 1_000_000
_OU = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}/{i}")


def check_stackset_template(
    template: Mapping[str, Any],
    *,
    asset_bucket: str,
    parameters: Sequence[str] = (),
    size: int | None = None,
) -> list[tuple[str, str]]:
    """What stops ``template`` from deploying as a StackSet in member accounts:
    ``[(where, problem)]``, empty when it is fit. ``parameters`` are those the StackSet sets."""
    problems: list[tuple[str, str]] = []
    resources: Mapping[str, Any] = template.get("Resources", {})
    declared: Mapping[str, Any] = template.get("Parameters", {})
    for name, spec in declared.items():
        if "bootstrap" in json.dumps(spec).lower() or name == "BootstrapVersion":
            problems.append(
                (
                    f"Parameters/{name}",
                    "reads the CDK bootstrap version: member accounts are "
                    "not bootstrapped (synthesize without the bootstrap check)",
                )
            )
        elif "Default" not in spec and name not in parameters:
            problems.append((f"Parameters/{name}", "has no default and the StackSet sets none"))
    for name in template.get("Rules", {}):
        problems.append(
            (
                f"Rules/{name}",
                "a template rule (CDK's bootstrap check?) would run in every member account",
            )
        )
    for logical, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        buckets: list[Any] = []
        if kind == "AWS::Lambda::Function":
            code = props.get("Code", {})
            if "ZipFile" not in code and "ImageUri" not in code:
                buckets.append(code.get("S3Bucket"))
        elif kind == "AWS::Lambda::LayerVersion":
            buckets.append(props.get("Content", {}).get("S3Bucket"))
        elif kind == "AWS::CloudFormation::Stack":
            problems.append((logical, "nested stacks are not supported in the domain template"))
        for bucket in buckets:
            if bucket != asset_bucket:
                problems.append(
                    (
                        logical,
                        f"its code is in {json.dumps(bucket)}, not in the organisation's "
                        f"assets bucket {asset_bucket!r}: member accounts cannot read it",
                    )
                )
    known = set(resources) | set(declared)
    for path, value in _walk(template):
        if not isinstance(value, dict) or len(value) != 1:
            continue
        ((fn, arg),) = value.items()
        if fn == "Fn::ImportValue":
            problems.append((path, "Fn::ImportValue reads an export of one account and region"))
        elif (
            fn == "Ref"
            and isinstance(arg, str)
            and not arg.startswith("AWS::")
            and arg not in known
        ):
            problems.append((path, f"Ref {arg!r} names no parameter or resource"))
    if size is not None and size > MAX_TEMPLATE_URL_BYTES:
        problems.append(("/", f"{size} bytes, over CloudFormation's {MAX_TEMPLATE_URL_BYTES}"))
    return problems


@jsii.implements(IPolicyValidationPlugin)
class StackSetTemplateChecks:
    """A CDK validation plugin running :func:`check_stackset_template` on every
    ``DomainStackSet``'s synthesized domain template; findings make ``app.synth()`` fail."""

    def __init__(self) -> None:
        self._stack_sets: list[DomainStackSet] = []

    @property
    def name(self) -> str:
        return "meshkit-stackset-template"

    @property
    def version(self) -> str | None:
        return "1"

    @property
    def rule_ids(self) -> list[str] | None:
        return ["meshkit-stackset-template"]

    def add(self, stack_set: DomainStackSet) -> None:
        self._stack_sets.append(stack_set)

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        violations: list[PolicyViolation] = []
        paths = [Path(p) for p in context.template_paths]
        for stack_set in self._stack_sets:
            outdir = paths[0].parent if paths else Path(".")
            path = outdir / stack_set.template.template_file
            text = path.read_text(encoding="utf-8")
            problems = check_stackset_template(
                json.loads(text),
                asset_bucket=stack_set.asset_bucket_name,
                parameters=stack_set.parameter_names,
                size=len(text.encode()),
            )
            for where, problem in problems:
                violations.append(
                    PolicyViolation(
                        rule_name="meshkit-stackset-template",
                        description=f"{stack_set.node.path}: the domain template is not "
                        f"StackSet-ready: {where}: {problem}",
                        violating_resources=[
                            PolicyViolatingResource(
                                resource_logical_id=where.strip("/").split("/")[0] or "template",
                                template_path=str(path),
                                locations=[where],
                            )
                        ],
                    )
                )
        return PolicyValidationPluginReport(success=not violations, violations=violations)


def _plugin(scope: Construct) -> StackSetTemplateChecks:
    """A plugin for this DomainStackSet, registered on its app (one per StackSet: an app rarely
    holds more than one)."""
    stage = Stage.of(scope)
    if stage is None:
        raise ValueError("DomainStackSet must be inside an App (or Stage)")
    plugin = StackSetTemplateChecks()
    Validations.of(stage).add_plugins(plugin)
    return plugin


class DomainStackSet(Construct):
    """A StackSet making every account of ``organizational_unit_ids`` a ``DataDomain`` of the
    mesh by itself (service-managed permissions, automatic deployment).

    Deploy it in the organisation's management account or in a CloudFormation delegated
    administrator (``call_as="DELEGATED_ADMIN"``); its stack's account and region must be
    concrete, and the domains are deployed in that region (the central bus's: DataDomain
    requires it)."""

    PROPS: ClassVar[dict[str, str]] = {
        "mesh_name": "Name of the mesh (as given to CentralGovernance).",
        "central_account": "Account id of the governance account.",
        "organization_id": "The organisation (`o-…`): the assets bucket is readable by it.",
        "organizational_unit_ids": "OUs (`ou-…`, or the root `r-…`) whose accounts become domains.",
        "domain_name_source": "`account-id` (`<prefix>_<account id>`) or `ssm` (a parameter of "
        "each account).",
        "domain_name_prefix": "Prefix of account-id domain names.",
        "ssm_parameter": "The SSM String parameter holding an account's domain name (`ssm`).",
        "call_as": "`SELF` (management account) or `DELEGATED_ADMIN`.",
        "retain_stacks": "Keep an account's domain stack when it leaves the OUs.",
        "domain_props": "More DataDomain props (sharing_mode, crawler, data_prefix, …).",
        "max_concurrent_percentage": "Accounts deployed at once, in percent.",
        "failure_tolerance_percentage": "Failed accounts tolerated per region, in percent.",
    }

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        mesh_name: str,
        central_account: str,
        organization_id: str,
        organizational_unit_ids: Sequence[str],
        domain_name_source: Literal["account-id", "ssm"] = "account-id",
        domain_name_prefix: str = "acct",
        ssm_parameter: str = "/meshkit/domain-name",
        call_as: Literal["SELF", "DELEGATED_ADMIN"] = "SELF",
        retain_stacks: bool = False,
        domain_props: Mapping[str, Any] | None = None,
        max_concurrent_percentage: int = 25,
        failure_tolerance_percentage: int = 10,
    ) -> None:
        super().__init__(scope, id)
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        stack = Stack.of(self)
        if Token.is_unresolved(stack.account) or Token.is_unresolved(stack.region):
            raise ValueError(
                "DomainStackSet needs a stack with a concrete account and region: the assets "
                "bucket's name is written into the domain template"
            )
        if not _ORG.match(organization_id):
            raise ValueError(f"organization_id={organization_id!r} is not an o-… id")
        if not organizational_unit_ids:
            raise ValueError("organizational_unit_ids is empty: name the OUs to deploy to")
        for ou in organizational_unit_ids:
            if not _OU.match(ou):
                raise ValueError(f"organizational unit {ou!r} is not an ou-… or r-… id")
        if domain_name_source not in ("account-id", "ssm"):
            raise ValueError(f"domain_name_source={domain_name_source!r}: 'account-id' or 'ssm'")
        if not _PREFIX.match(domain_name_prefix):
            raise ValueError(
                f"domain_name_prefix={domain_name_prefix!r}: a lowercase letter, then letters, "
                "digits or '_' (at most 50)"
            )
        if call_as not in ("SELF", "DELEGATED_ADMIN"):
            raise ValueError(f"call_as={call_as!r}: 'SELF' or 'DELEGATED_ADMIN'")
        props = dict(domain_props or {})
        for reserved in ("mesh_name", "domain_name", "central_account", "organization_id"):
            if reserved in props:
                raise ValueError(f"domain_props may not set {reserved!r}: DomainStackSet sets it")

        self.asset_bucket_name = f"meshkit-{mesh_name}-domain-assets-{stack.account}-{stack.region}"
        access_logs = s3.Bucket(
            self,
            "AssetsAccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # SSE-S3: Lambda in member accounts fetches the code with no KMS grant to arrange.
        self.asset_bucket = s3.Bucket(
            self,
            "Assets",
            bucket_name=self.asset_bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="assets/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.asset_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrganizationReadsDomainAssets",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[self.asset_bucket.arn_for_objects("*")],
                conditions={"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            )
        )

        self.template = servicecatalog.ProductStack(
            self, "DomainTemplate", asset_bucket=self.asset_bucket
        )
        if domain_name_source == "ssm":
            parameter = CfnParameter(
                self.template,
                "DomainName",
                type="AWS::SSM::Parameter::Value<String>",
                default=ssm_parameter,
                description="SSM parameter holding this account's domain name",
            )
            domain_name = parameter.value_as_string
        else:
            domain_name = Fn.join("_", [domain_name_prefix, Aws.ACCOUNT_ID])
        self.parameter_names: list[str] = []
        self.domain = DataDomain(
            self.template,
            "Domain",
            mesh_name=mesh_name,
            domain_name=domain_name,
            central_account=central_account,
            organization_id=organization_id,
            **props,
        )
        url = servicecatalog.CloudFormationTemplate.from_product_stack(self.template).bind(self)
        self.stack_set = cfn.CfnStackSet(
            self,
            "StackSet",
            stack_set_name=f"meshkit-{mesh_name}-domain",
            description=f"meshkit {mesh_name}: each account of the OUs is a data domain",
            permission_model="SERVICE_MANAGED",
            auto_deployment=cfn.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=retain_stacks
            ),
            call_as=call_as,
            capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            managed_execution={"Active": True},
            operation_preferences=cfn.CfnStackSet.OperationPreferencesProperty(
                max_concurrent_percentage=max_concurrent_percentage,
                failure_tolerance_percentage=failure_tolerance_percentage,
                region_concurrency_type="PARALLEL",
            ),
            stack_instances_group=[
                cfn.CfnStackSet.StackInstancesProperty(
                    deployment_targets=cfn.CfnStackSet.DeploymentTargetsProperty(
                        organizational_unit_ids=list(organizational_unit_ids)
                    ),
                    regions=[stack.region],
                )
            ],
            template_url=url.http_url,
        )
        # The assets must be in the bucket before any account deploys the template.
        for child in self.node.find_all():
            if type(child).__name__ == "BucketDeployment":
                self.stack_set.node.add_dependency(child)
        self._acknowledge_asset_copier(stack)
        _plugin(self).add(self)

    def _acknowledge_asset_copier(self, stack: Stack) -> None:
        """CDK's BucketDeployment provider (one per stack, created by the product stack to copy
        the domain's assets) comes with CDK's own role and runtime."""
        copier = next(
            (c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")),
            None,
        )
        if copier is None:
            return
        reason = (
            "CDK's BucketDeployment provider copies the domain template's assets from the CDK "
            "assets bucket into the organisation's assets bucket: its role, runtime and "
            "grants (read of the source, read-write of the destination, prefix-wildcard S3 "
            "actions) are CDK's, scoped to those two buckets."
        )
        _nag.acknowledge(copier, "AwsSolutions-L1", reason)
        role = copier.node.try_find_child("ServiceRole")
        if isinstance(role, iam.Role):
            drop_role_dependency(copier, role)
        _nag.acknowledge(
            copier,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            reason,
        )
        for action in (
            "s3:GetObject*",
            "s3:GetBucket*",
            "s3:List*",
            "s3:DeleteObject*",
            "s3:Abort*",
        ):
            _nag.acknowledge(copier, f"AwsSolutions-IAM5[Action::{action}]", reason)
        source = f"arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-{stack.account}-{stack.region}/*"
        _nag.acknowledge(copier, f"AwsSolutions-IAM5[Resource::{source}]", reason)
        destination = _nag.finding_text(self, self.asset_bucket.arn_for_objects("*"))
        _nag.acknowledge(copier, f"AwsSolutions-IAM5[Resource::{destination}]", reason)
