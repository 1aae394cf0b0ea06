"""The IAM statements each handler group needs, scoped as far as each service allows.

Lake Formation and the RAM listing calls have no resource-level permissions (their IAM reference
lists ``*`` as the only resource); everything else is scoped to this mesh's resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

if TYPE_CHECKING:
    from collections.abc import Sequence

    from constructs import Construct

__all__ = [
    "CENTRAL_GROUP_ACTIONS",
    "DOMAIN_GROUP_ACTIONS",
    "UNUSED_GRANT_REASONS",
    "CentralGroupActions",
    "DomainGroupActions",
    "catalog_arns",
    "central_group_statements",
    "central_sharing_statements",
    "domain_group_statements",
    "domain_lf_statements",
    "unused_grant_reason",
]


@dataclass(frozen=True)
class CentralGroupActions:
    """What one central handler group calls: Glue on central's catalog, Lake Formation, and
    whether it grants across accounts (Lake Formation then shares through RAM as the caller)."""

    glue: tuple[str, ...] = ()
    lakeformation: tuple[str, ...] = ()
    cross_account_grants: bool = False


#: Each central group's own list, from its handlers' boto3 calls (meshkit.handlers.central,
#: meshkit.handlers.lake; a test derives them from the code). Glue reads stay with the groups
#: that grant: Lake Formation resolves the granted database and table as the grantor.
CENTRAL_GROUP_ACTIONS: dict[str, CentralGroupActions] = {
    "central.onboarding": CentralGroupActions(
        glue=(
            "glue:GetDatabase",
            "glue:GetTable",
            "glue:CreateDatabase",
            "glue:DeleteDatabase",
            "glue:CreateTable",
            "glue:UpdateTable",
        ),
        lakeformation=(
            "lakeformation:GrantPermissions",
            "lakeformation:RevokePermissions",
            "lakeformation:CreateLFTag",
            "lakeformation:UpdateLFTag",
            "lakeformation:GetLFTag",
            "lakeformation:AddLFTagsToResource",
        ),
        cross_account_grants=True,
    ),
    "central.access": CentralGroupActions(
        glue=("glue:GetDatabase", "glue:GetTable"),
        lakeformation=(
            "lakeformation:GrantPermissions",
            "lakeformation:RevokePermissions",
            "lakeformation:GetResourceLFTags",
        ),
        cross_account_grants=True,
    ),
    # Registry, bus and erasure key only (CDK grants): no catalog, Lake Formation or RAM.
    "central.erasure": CentralGroupActions(),
    # Registry, bus and DataZone (datazone.datazone_statements) only.
    "central.publication": CentralGroupActions(),
    # Permissions as code (meshkit.governance): reads the catalog, its tags, the explicit grants
    # and data-cells filters; applies the plan in batches. Personas' principals may be in other
    # accounts, so its grants may be shared through RAM. Its SSM parameter (the personas file)
    # is the ``parameters`` of central_group_statements.
    "central.permissions": CentralGroupActions(
        glue=("glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables"),
        lakeformation=(
            "lakeformation:GetDataLakeSettings",
            "lakeformation:ListPermissions",
            "lakeformation:GetResourceLFTags",
            "lakeformation:ListDataCellsFilter",
            "lakeformation:CreateDataCellsFilter",
            "lakeformation:UpdateDataCellsFilter",
            "lakeformation:DeleteDataCellsFilter",
            "lakeformation:BatchGrantPermissions",
            "lakeformation:BatchRevokePermissions",
        ),
        cross_account_grants=True,
    ),
    # Rejects misplaced events: its queues, key, idempotency table and bus only.
    "central.guard": CentralGroupActions(),
}


@dataclass(frozen=True)
class DomainGroupActions:
    """What one domain handler group calls: Glue on the domain's own catalog (resource links),
    Glue reads on central's catalog, Lake Formation, and whether it accepts central's RAM
    invitations."""

    own_catalog: tuple[str, ...] = ()
    central_catalog: tuple[str, ...] = ()
    lakeformation: tuple[str, ...] = ()
    accepts_shares: bool = False


#: Each domain group's own list, from its handlers' boto3 calls (meshkit.handlers.producer,
#: .consumer, .sharing, .lake; meshkit.erasure.domain; meshkit.handlers.publication). The
#: state table, idempotency table, bus, key and (erasure) bucket come from CDK grants.
DOMAIN_GROUP_ACTIONS: dict[str, DomainGroupActions] = {
    # Links central's database into the domain's catalog, reads the registered tables.
    "domain.producer": DomainGroupActions(
        own_catalog=("glue:GetDatabase", "glue:CreateDatabase"),
        central_catalog=("glue:GetTable",),
        accepts_shares=True,
    ),
    # Links granted databases and tables, removes them on revocation, grants its principals.
    "domain.consumer": DomainGroupActions(
        own_catalog=(
            "glue:GetDatabase",
            "glue:CreateDatabase",
            "glue:DeleteDatabase",
            "glue:CreateTable",
            "glue:DeleteTable",
        ),
        central_catalog=("glue:GetDatabase", "glue:GetTable"),
        lakeformation=("lakeformation:GrantPermissions", "lakeformation:RevokePermissions"),
        accepts_shares=True,
    ),
    # Objects, subject index and erasure key only (statements of DataDomain._grant_erasure).
    "domain.erasure": DomainGroupActions(),
    # State table and bus only: DataZone subscriptions become the domain's access requests.
    "domain.publication": DomainGroupActions(),
    # Rejects misplaced events: its idempotency records, its bus and its DLQ only.
    "domain.guard": DomainGroupActions(),
}

#: Actions a group's role is granted that no local scenario calls, each with its reason
#: (tests/functional/test_iam_parity.py fails on a granted, never-called action without one,
#: and on a reason for an action a scenario does call). ``"*"``: the reason holds for every
#: group.
UNUSED_GRANT_REASONS: dict[str, dict[str, str]] = {
    "*": {
        **dict.fromkeys(
            (
                "sqs:ReceiveMessage",
                "sqs:ChangeMessageVisibility",
                "sqs:GetQueueUrl",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            ),
            "Lambda's SQS event source mapping polls and deletes with the function's role (the "
            "local delivery loop plays it, as the mesh's own calls)",
        ),
        "sqs:SendMessage": "error path: a poison event goes to the group's dead-letter queue",
        **dict.fromkeys(
            ("logs:CreateLogStream", "logs:PutLogEvents"),
            "Lambda writes the function's logs with its role",
        ),
        **dict.fromkeys(
            (
                "kms:Decrypt",
                "kms:Encrypt",
                "kms:DescribeKey",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            ),
            "SQS, DynamoDB, EventBridge and S3 use the mesh key on the caller's behalf (KMS is "
            "not evaluated locally)",
        ),
        **dict.fromkeys(
            (
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem",
                "dynamodb:DescribeTable",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
            ),
            "CDK's Table.grant_read_write_data bundle on the registry/state and idempotency "
            "tables, whose helpers (meshkit.handlers.registry) every group shares",
        ),
        "secretsmanager:DescribeSecret": "CDK's Secret.grant_read bundle with GetSecretValue",
    },
    "central.onboarding": {
        "glue:GetDatabase": "Lake Formation resolves a granted database as the grantor",
        "lakeformation:DescribeResource": "error path: a location already registered is "
        "checked for its role",
    },
    "central.access": {},
    "central.publication": {
        "datazone:GetDataSource": "retry path: a data source found by name is read back",
        "datazone:GetEnvironment": "retry path: an environment being created is read back",
        "datazone:RejectSubscriptionRequest": "a denied or expired request is rejected in "
        "DataZone; the demo only approves",
        "datazone:RevokeSubscription": "revocation of a DataZone subscription; not in the demo",
    },
    "central.permissions": {
        "glue:GetDatabase": "Lake Formation resolves a granted database as the grantor",
        "lakeformation:BatchRevokePermissions": "drift repair (on_drift: repair) and rules "
        "taken out of the file; the demo's persona only reports",
        "lakeformation:CreateDataCellsFilter": "row filters (rule row_filter); the demo's "
        "personas file has none",
        "lakeformation:UpdateDataCellsFilter": "a row filter's expression changed in the file",
        "lakeformation:DeleteDataCellsFilter": "a row filter the file no longer names, held "
        "only by repairing personas",
        "lakeformation:GetResourceLFTags": "rules by LF-tags (lf_tags); the demo's rules name "
        "databases",
    },
    "domain.producer": {},
    "domain.consumer": {
        "glue:DeleteTable": "revocation of single tables (the demo revokes a whole database)",
        "glue:GetDatabase": "retry path: an existing link is read back and checked",
        "glue:GetTable": "Glue resolves a link's target in central's catalog as the caller",
    },
}

#: What Lake Formation needs from the grantor for cross-account grants (central_sharing_statements).
for _group in ("central.onboarding", "central.access", "central.permissions"):
    UNUSED_GRANT_REASONS[_group].update(
        dict.fromkeys(
            (
                "ram:CreateResourceShare",
                "ram:UpdateResourceShare",
                "ram:DeleteResourceShare",
                "ram:AssociateResourceShare",
                "ram:DisassociateResourceShare",
                "ram:GetResourceShares",
                "ram:AssociateResourceSharePermission",
                "ram:GetResourceShareAssociations",
                "ram:GetResourceShareInvitations",
                "ram:ListResourceSharePermissions",
                "ram:ListResources",
                "ram:ListPermissions",
                "organizations:DescribeOrganization",
                "organizations:DescribeAccount",
                "glue:PutResourcePolicy",
                "glue:GetResourcePolicy",
                "glue:DeleteResourcePolicy",
            ),
            "Lake Formation shares a cross-account grant through RAM as the grantor "
            "(AWSLakeFormationCrossAccountManager); the lake simulation does it locally",
        )
    )


def unused_grant_reason(group: str, action: str) -> str | None:
    """Why ``group``'s role holds ``action`` although no local scenario calls it."""
    return UNUSED_GRANT_REASONS.get(group, {}).get(action) or UNUSED_GRANT_REASONS["*"].get(action)


def catalog_arns(scope: Construct, account: str | None = None) -> list[str]:
    """The Glue Data Catalog, its databases and tables in ``account`` (default: this stack's)."""
    stack = Stack.of(scope)
    prefix = f"arn:{stack.partition}:glue:{stack.region}:{account or stack.account}"
    return [f"{prefix}:catalog", f"{prefix}:database/*", f"{prefix}:table/*/*"]


def central_group_statements(
    scope: Construct, group: str, *, parameters: Sequence[str] = ()
) -> list[iam.PolicyStatement]:
    """The catalog, Lake Formation and RAM statements of central handler group ``group``;
    ``ssm:GetParameter`` on the ``parameters`` (ARNs) it reads."""
    try:
        actions = CENTRAL_GROUP_ACTIONS[group]
    except KeyError:
        raise ValueError(
            f"no IAM action list for central handler group {group!r}: add it to "
            "_iam.CENTRAL_GROUP_ACTIONS"
        ) from None
    statements = []
    if actions.glue:
        statements.append(
            iam.PolicyStatement(
                sid="CentralCatalog", actions=list(actions.glue), resources=catalog_arns(scope)
            )
        )
    if actions.lakeformation:
        statements.append(
            iam.PolicyStatement(
                sid="LakeFormation", actions=list(actions.lakeformation), resources=["*"]
            )
        )
    if actions.cross_account_grants:
        statements.extend(central_sharing_statements(scope))
    if parameters:
        statements.append(
            iam.PolicyStatement(
                sid="PersonasFile", actions=["ssm:GetParameter"], resources=list(parameters)
            )
        )
    return statements


def central_sharing_statements(scope: Construct) -> list[iam.PolicyStatement]:
    """What Lake Formation needs from the grantor for cross-account grants shared through RAM.

    Mirrors the AWS managed policy AWSLakeFormationCrossAccountManager (required by LF
    cross-account version settings 3 and 4), with every action named and the same conditions.
    """
    stack = Stack.of(scope)
    return [
        iam.PolicyStatement(
            sid="RamCreateShareForGlue",
            actions=["ram:CreateResourceShare"],
            resources=["*"],
            conditions={
                "StringLikeIfExists": {
                    "ram:RequestedResourceType": ["glue:Table", "glue:Database", "glue:Catalog"]
                }
            },
        ),
        iam.PolicyStatement(
            sid="RamManageLakeFormationShares",
            actions=[
                "ram:UpdateResourceShare",
                "ram:DeleteResourceShare",
                "ram:AssociateResourceShare",
                "ram:DisassociateResourceShare",
                "ram:GetResourceShares",
            ],
            resources=["*"],
            conditions={"StringLike": {"ram:ResourceShareName": ["LakeFormation*"]}},
        ),
        iam.PolicyStatement(
            sid="RamLakeFormationPermissions",
            actions=["ram:AssociateResourceSharePermission"],
            resources=["*"],
            conditions={
                "StringLike": {
                    "ram:PermissionArn": [
                        f"arn:{stack.partition}:ram::aws:permission/AWSRAMLFEnabled*"
                    ]
                }
            },
        ),
        iam.PolicyStatement(
            sid="RamAndOrganizationsRead",
            actions=[
                "ram:GetResourceShareAssociations",
                "ram:GetResourceShareInvitations",
                "ram:ListResourceSharePermissions",
                "ram:ListResources",
                "ram:ListPermissions",
                "organizations:DescribeOrganization",
                "organizations:DescribeAccount",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="CatalogResourcePolicy",
            actions=[
                "glue:PutResourcePolicy",
                "glue:GetResourcePolicy",
                "glue:DeleteResourcePolicy",
            ],
            resources=[catalog_arns(scope)[0]],
        ),
    ]


def membership_statements(
    scope: Construct,
    *,
    organization_id: str,
    management_account: str | None,
    reader_role_name: str,
) -> list[iam.PolicyStatement]:
    """What central's membership check (meshkit.handlers.membership) calls: DescribeAccount and
    ListParents on the organisation's accounts and OUs, as a delegated administrator, or through
    a reader role in the management account."""
    stack = Stack.of(scope)
    if management_account:
        return [
            iam.PolicyStatement(
                sid="AssumeOrganizationReader",
                actions=["sts:AssumeRole"],
                resources=[
                    f"arn:{stack.partition}:iam::{management_account}:role/{reader_role_name}"
                ],
            )
        ]
    org_arn = f"arn:{stack.partition}:organizations::*"
    return [
        iam.PolicyStatement(
            sid="OrganizationMembershipRead",
            actions=["organizations:DescribeAccount", "organizations:ListParents"],
            resources=[
                f"{org_arn}:account/{organization_id}/*",
                f"{org_arn}:ou/{organization_id}/*",
            ],
        )
    ]


def domain_group_statements(
    scope: Construct, group: str, central_account: str
) -> list[iam.PolicyStatement]:
    """The catalog, Lake Formation and RAM statements of domain handler group ``group``."""
    try:
        actions = DOMAIN_GROUP_ACTIONS[group]
    except KeyError:
        raise ValueError(
            f"no IAM action list for domain handler group {group!r}: add it to "
            "_iam.DOMAIN_GROUP_ACTIONS"
        ) from None
    statements = []
    if actions.own_catalog:
        statements.append(
            iam.PolicyStatement(
                sid="OwnCatalogLinks",
                actions=list(actions.own_catalog),
                resources=catalog_arns(scope),
            )
        )
    if actions.central_catalog:
        statements.append(
            iam.PolicyStatement(
                sid="CentralCatalogRead",
                actions=list(actions.central_catalog),
                resources=catalog_arns(scope, central_account),
            )
        )
    if actions.lakeformation:
        statements.append(
            iam.PolicyStatement(
                sid="LakeFormationGrants", actions=list(actions.lakeformation), resources=["*"]
            )
        )
    if actions.accepts_shares:
        statements.extend(domain_lf_statements(central_account))
    return statements


def domain_lf_statements(central_account: str) -> list[iam.PolicyStatement]:
    """Listing central's RAM invitations and accepting only those central sent."""
    return [
        iam.PolicyStatement(
            sid="RamListInvitations",
            actions=["ram:GetResourceShareInvitations"],
            resources=["*"],
        ),
        # Accept only shares that central owns: another account's invitation stays pending.
        iam.PolicyStatement(
            sid="RamAcceptCentralInvitations",
            actions=["ram:AcceptResourceShareInvitation"],
            resources=["*"],
            conditions={"StringEquals": {"ram:ShareOwnerAccountId": central_account}},
        ),
    ]
