"""Example CDK app for a domain account: a DataDomain plus a team's own handler, cdk-nag checked."""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks

from meshkit.constructs import DataDomain
from meshkit.events.access import AccessGranted

DEFAULTS = {
    "mesh_name": "demo",
    "domain_name": "sales",
    "domain_account": "222222222222",
    "central_account": "111111111111",
    "region": "eu-west-1",
    "organization_id": "",
}


def context(app: cdk.App, key: str) -> str:
    value = app.node.try_get_context(key)
    return str(value) if value not in (None, "") else DEFAULTS[key]


def notify_on_access_granted(stack: cdk.Stack, domain: DataDomain) -> None:
    """The custom handler: AccessGranted -> queue -> Lambda -> SNS topic."""
    key = kms.Key(stack, "NotifyKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "AccessGrantedTopic", master_key=key, enforce_ssl=True)
    log_group = logs.LogGroup(
        stack,
        "NotifyLogs",
        retention=logs.RetentionDays.THREE_MONTHS,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    role = iam.Role(stack, "NotifyRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    function = lambda_.Function(
        stack,
        "NotifyFunction",
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        handler="handler.handler",
        code=lambda_.Code.from_asset(str(Path(__file__).parent / "notify")),
        role=role,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        environment={"TOPIC_ARN": topic.topic_arn},
        timeout=cdk.Duration.seconds(30),
    )
    topic.grant_publish(function)
    # The function's GetAtt on the role already orders them; keep only the policy in DependsOn
    # (cfn-lint W3005 flags the redundant one CDK adds).
    policy = role.node.find_child("DefaultPolicy").node.default_child
    fn_resource = function.node.default_child
    if isinstance(fn_resource, cdk.CfnResource) and isinstance(policy, cdk.CfnResource):
        fn_resource.add_override("DependsOn", [policy.logical_id])
    domain.add_handler(AccessGranted, function, id="NotifyAccessGranted")
    # Publishing to a KMS-encrypted topic: SNS calls GenerateDataKey*/ReEncrypt* variants.
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Action::{action}]",
                reason="CDK's grant for publishing to the KMS-encrypted topic: AWS requires "
                "these KMS action families; scoped to the topic's one key.",
            )
        )


def main() -> None:
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR") or "cdk.out")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    stack = cdk.Stack(
        app,
        "MeshDomainSales",
        env=cdk.Environment(account=context(app, "domain_account"), region=context(app, "region")),
        description="meshkit data domain",
    )
    domain = DataDomain(
        stack,
        "Domain",
        mesh_name=context(app, "mesh_name"),
        domain_name=context(app, "domain_name"),
        central_account=context(app, "central_account"),
        organization_id=context(app, "organization_id") or None,
        owner="sales-data-team@example.com",
        description="Sales orders",
    )
    notify_on_access_granted(stack, domain)
    # A self-service portal of this account may request access, and send nothing else.
    portal = iam.Role(
        stack,
        "AccessPortalRole",
        assumed_by=iam.AccountRootPrincipal(),
        description="Requests access to data products on behalf of analysts",
    )
    domain.grant_request_access(portal)
    app.synth()


if __name__ == "__main__":
    main()
