"""cdk-nag acknowledgments: each names the finding exactly and says why AWS requires it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_cdk import Acknowledgment, Stack, Validations

if TYPE_CHECKING:
    from constructs import IConstruct

__all__ = ["REASONS", "acknowledge", "acknowledge_actions", "acknowledge_resources", "finding_text"]

#: Why each kind of finding is required; shared so that the reference pages can list them.
REASONS: dict[str, str] = {
    "kms": "CDK's KMS grant for DynamoDB/SQS/S3 with a customer-managed key: AWS services call "
    "GenerateDataKey* and ReEncrypt* variants on the caller's behalf; scoped to this one key.",
    "no-resource-level": "Lake Formation, RAM listing/invitation and Organizations read calls "
    "support no resource-level permissions (the IAM service authorization reference lists no "
    "resource type), so AWS requires Resource '*'.",
    "glue-runtime": "Glue databases and tables are created at run time per domain and product "
    "(names unknown at synth); scoped to the catalog of one account and region.",
    "ddb-index": "Queries on the table's secondary index (gsi1): IAM names indexes as "
    "<table ARN>/index/<name>; CDK's grant covers the table's indexes.",
    "s3-prefix": "Data products are objects under the domain prefix whose keys are unknown at "
    "synth; scoped to that prefix of the one bucket.",
    "crawlers": "Crawlers are created at run time, one per product, named "
    "<mesh>-<domain>-<product>; scoped to this domain's name prefix.",
    "glue-logs": "Glue crawlers write to the fixed log group /aws-glue/crawlers with one "
    "stream per run, named by Glue; scoped to that log group.",
    "org-members": "Accounts and OUs join the organisation at run time (that is the point of "
    "OU membership); scoped to this one organisation's accounts and OUs.",
    "erasure-key": "The erasure key is an HMAC key of keyed hashes kept in the erasure record "
    "and the subject index; rotating it would orphan every hash made with it, so it is rotated "
    "deliberately with a re-index (docs/erasure.md), not on a schedule.",
    "erasure-objects": "An erasure rewrites, verifies and deletes versions of objects under the "
    "domain prefix whose keys are unknown at synth; scoped to that prefix of the one bucket.",
    "member-data": "Central's Lake Formation location role reads the data of domains that join "
    "at run time (buckets and keys unknown at synth); the identity policy is limited to the "
    "mesh's accounts or organisation (aws:ResourceAccount / aws:ResourceOrgID), and each domain's "
    "bucket and key policy grants only its data prefix.",
    "bucket-owner": "Domains join at run time with buckets unknown at synth; central only calls "
    "HeadBucket (authorised as s3:ListBucket) with ExpectedBucketOwner, the ownership check of "
    "onboarding, limited to the mesh's accounts or organisation.",
    "provider-invoke": "CDK's Provider framework invokes the registration function by its ARN "
    "and qualified ARNs (CDK's grantInvoke covers versions and aliases); scoped to that one "
    "function.",
    "own-logs": "CloudWatch Logs names each stream of a log group at run time; scoped to the "
    "function's own log group.",
    "stack-runtime": "The custom resource runs on the same Python runtime as the stack's "
    "handlers (the runtime prop, whose default the Powertools layer bounds): one runtime to "
    "patch per stack.",
    "delivery-dlq": "This queue is itself a dead-letter queue: EventBridge's, for events it "
    "could not deliver to a rule target (a rule's DeadLetterConfig, not an SQS redrive policy, "
    "which cdk-nag does not see); a DLQ of a DLQ would only move the problem.",
    "runtime": "The public Powertools layer, which brings pydantic without Docker bundling, is "
    "published per Python version; the default runtime is the newest Python with a "
    "documented Powertools v3 layer (the runtime and layer version are props).",
}


def render(value: Any, *, strict: bool = True) -> str:
    """A resolved CloudFormation value as cdk-nag prints it (``<Logical.Arn>``, ``<AWS::X>``).

    ``strict=False`` falls back to compact JSON for what has no such form (reference pages).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if fn == "Fn::Join":
            sep, parts = arg
            return str(sep).join(render(p, strict=strict) for p in parts)
    if not strict:
        return json.dumps(value, sort_keys=True)
    raise ValueError(f"cannot render {value!r} as a cdk-nag finding id")


def finding_text(scope: IConstruct, value: str) -> str:
    return render(Stack.of(scope).resolve(value))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_resources(scope: IConstruct, resources: list[str], reason_key: str) -> None:
    """Acknowledge ``AwsSolutions-IAM5[Resource::...]`` for each wildcard resource given."""
    for resource in resources:
        text = finding_text(scope, resource)
        acknowledge(scope, f"AwsSolutions-IAM5[Resource::{text}]", REASONS[reason_key])


def acknowledge_actions(scope: IConstruct, actions: list[str], reason_key: str) -> None:
    for action in actions:
        acknowledge(scope, f"AwsSolutions-IAM5[Action::{action}]", REASONS[reason_key])
