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
    "CentralGroupActions",
    "catalog_arns",
    "central_group_statements",
    "central_sharing_statements",
    "domain_lf_statements",
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


def domain_lf_statements(central_account: str) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(
            sid="LakeFormationGrants",
            actions=[
                "lakeformation:GrantPermissions",
                "lakeformation:RevokePermissions",
                "lakeformation:BatchGrantPermissions",
                "lakeformation:BatchRevokePermissions",
                "lakeformation:GetDataAccess",
            ],
            resources=["*"],
        ),
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
