"""Resources both constructs create alike: the customer key, state and idempotency tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms

from meshkit.runtime.tables import (
    IDEMPOTENCY_TABLE,
    STATE_TABLE,
    SUBJECT_INDEX_TABLE,
    TTL_ATTRIBUTE,
)

if TYPE_CHECKING:
    from constructs import Construct

__all__ = [
    "central_bus_arn",
    "central_bus_name",
    "idempotency_table",
    "location_role_arn",
    "location_role_name",
    "mesh_key",
    "state_table",
    "subject_index_table",
    "subscription_dlq_arn",
    "subscription_dlq_name",
]


def central_bus_name(mesh_name: str) -> str:
    """The central bus name: derived from the mesh name so domains can address it.

    It is the only physical name meshkit sets; it contains the mesh name, so several meshes can
    share one account and region.
    """
    return f"meshkit-{mesh_name}-central"


def central_bus_arn(mesh_name: str, *, account: str, region: str, partition: str = "aws") -> str:
    return f"arn:{partition}:events:{region}:{account}:event-bus/{central_bus_name(mesh_name)}"


def subscription_dlq_name(mesh_name: str) -> str:
    """Central's dead-letter queue for the domains' subscription rules (they address it)."""
    return f"meshkit-{mesh_name}-subscription-dead-letters"


def subscription_dlq_arn(
    mesh_name: str, *, account: str, region: str, partition: str = "aws"
) -> str:
    return f"arn:{partition}:sqs:{region}:{account}:{subscription_dlq_name(mesh_name)}"


def location_role_name(mesh_name: str, region: str) -> str:
    """Central's Lake Formation location role: named, so each domain's bucket and key policies
    can trust it before (and whatever) central deploys. IAM names are account-wide, hence the
    region; at most 8 + 31 + 10 + 14 = 63 of IAM's 64 characters."""
    return f"meshkit-{mesh_name}-location-{region}"


def location_role_arn(mesh_name: str, *, account: str, region: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:role/{location_role_name(mesh_name, region)}"


def mesh_key(scope: Construct, id: str, *, description: str, removal: RemovalPolicy) -> kms.Key:
    return kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal,
    )


def _attr(defs: list[dict[str, Any]], name: str) -> dynamodb.Attribute:
    kind = {a["AttributeName"]: a["AttributeType"] for a in defs}[name]
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType(_TYPES[kind]))


_TYPES = {"S": "STRING", "N": "NUMBER", "B": "BINARY"}


def _key_schema(shape: dict[str, Any], schema: list[dict[str, str]]) -> dict[str, Any]:
    defs = shape["AttributeDefinitions"]
    keys: dict[str, Any] = {}
    for k in schema:
        attr = _attr(defs, k["AttributeName"])
        keys["partition_key" if k["KeyType"] == "HASH" else "sort_key"] = attr
    return keys


def _table(
    scope: Construct,
    id: str,
    shape: dict[str, Any],
    *,
    key: kms.IKey,
    removal: RemovalPolicy,
    ttl: bool,
) -> dynamodb.Table:
    if shape.get("BillingMode") != "PAY_PER_REQUEST":
        raise ValueError("meshkit table shapes are on-demand; update the construct with the shape")
    table = dynamodb.Table(
        scope,
        id,
        **_key_schema(shape, shape["KeySchema"]),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryption_key=key,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=TTL_ATTRIBUTE if ttl else None,
        removal_policy=removal,
    )
    for index in shape.get("GlobalSecondaryIndexes", ()):
        if index["Projection"]["ProjectionType"] != "ALL":
            raise ValueError(f"index {index['IndexName']}: only ALL projections are supported")
        table.add_global_secondary_index(
            index_name=index["IndexName"],
            **_key_schema(shape, index["KeySchema"]),
            projection_type=dynamodb.ProjectionType.ALL,
        )
    return table


def state_table(
    scope: Construct, id: str, *, key: kms.IKey, removal: RemovalPolicy
) -> dynamodb.Table:
    """A registry/state table of shape ``STATE_TABLE``, with TTL for expiring requests."""
    return _table(scope, id, STATE_TABLE, key=key, removal=removal, ttl=True)


def idempotency_table(scope: Construct, id: str, *, key: kms.IKey) -> dynamodb.Table:
    """Idempotency records expire by TTL; losing them on stack deletion loses nothing."""
    return _table(scope, id, IDEMPOTENCY_TABLE, key=key, removal=RemovalPolicy.DESTROY, ttl=True)


def subject_index_table(
    scope: Construct, id: str, *, key: kms.IKey, removal: RemovalPolicy
) -> dynamodb.Table:
    """A domain's subject index (``SUBJECT_INDEX_TABLE``): hashes only, rebuilt from the data."""
    return _table(scope, id, SUBJECT_INDEX_TABLE, key=key, removal=removal, ttl=True)
