"""Example CDK app for a domain account: a DataDomain plus a team's own handler, cdk-nag checked."""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks

from meshkit.constructs import DataDomain, MeshFunction
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


def notify_on_access_granted(stack: cdk.Stack, domain: DataDomain) -> MeshFunction:
    """The team handler (notify/app.py, a meshkit router): AccessGranted -> SNS topic."""
    key = kms.Key(stack, "NotifyKey", enable_key_rotation=True)
    topic = sns.Topic(stack, "AccessGrantedTopic", master_key=key, enforce_ssl=True)
    function = MeshFunction(
        stack,
        "NotifyFunction",
        mesh=domain,
        entry=Path(__file__).parent / "notify",
        handler="app.handler",
        settings={"topic_arn": topic.topic_arn},
        timeout=cdk.Duration.seconds(30),
    )
    topic.grant_publish(function)
    domain.add_handler(AccessGranted, function, id="NotifyAccessGranted")
    # Publishing to a KMS-encrypted topic: SNS calls GenerateDataKey*/ReEncrypt* variants.
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        cdk.Validations.of(function.role or function).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Action::{action}]",
                reason="CDK's grant for publishing to the KMS-encrypted topic: AWS requires "
                "these KMS action families; scoped to the topic's one key.",
            )
        )
    return function


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
