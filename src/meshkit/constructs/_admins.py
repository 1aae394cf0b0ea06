"""The data-lake admins custom resource: merge this stack's principals into the account's list.

``AWS::LakeFormation::DataLakeSettings`` would replace the account's whole settings; the handler
(``meshkit.runtime.data_lake_admins``) reads, merges and writes back instead, and removes only its
own principals on delete.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import CfnCustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from meshkit.constructs import _code, _nag
from meshkit.constructs._handlers import drop_role_dependency

if TYPE_CHECKING:
    from collections.abc import Sequence

    from constructs import Construct

__all__ = ["HANDLER", "data_lake_admins"]

#: The custom resource's entrypoint (standard library and boto3 only: no layer).
HANDLER = "meshkit.runtime.data_lake_admins.handler"


def data_lake_admins(
    scope: Construct,
    id: str,
    *,
    admins: Sequence[str],
    architecture: lambda_.Architecture,
    runtime: lambda_.Runtime,
    log_retention: logs.RetentionDays,
) -> CfnCustomResource:
    """A custom resource making ``admins`` data-lake administrators of this account."""
    log_group = logs.LogGroup(
        scope,
        f"{id}Logs",
        retention=log_retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        f"{id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Merges this stack's principals into the Lake Formation admins",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="DataLakeSettings",
            actions=["lakeformation:GetDataLakeSettings", "lakeformation:PutDataLakeSettings"],
            resources=["*"],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="Logs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    _nag.acknowledge_resources(role, ["*"], "no-resource-level")
    _nag.acknowledge_resources(role, [f"{log_group.log_group_arn}:*"], "own-logs")
    function = lambda_.Function(
        scope,
        f"{id}Function",
        description="meshkit: data-lake admins, merged (not replaced) on deploy and delete",
        runtime=runtime,
        architecture=architecture,
        handler=HANDLER,
        code=_code.package_code(),
        role=role,
        timeout=Duration.minutes(1),
        memory_size=256,
        log_group=log_group,
    )
    drop_role_dependency(function, role)
    _nag.acknowledge(function, "AwsSolutions-L1", _nag.REASONS["stack-runtime"])
    resource = CfnCustomResource(scope, id, service_token=function.function_arn)
    resource.add_property_override("Admins", list(admins))
    return resource
