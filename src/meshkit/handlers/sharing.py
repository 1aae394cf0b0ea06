"""Domain-side sharing steps shared by producer and consumer: RAM invitations, resource links."""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshkit.handlers._common import aws_error_code

if TYPE_CHECKING:
    from meshkit.runtime.context import HandlerContext

__all__ = [
    "accept_invitations",
    "ensure_database_link",
    "ensure_plain_database",
    "ensure_table_link",
]


def accept_invitations(ctx: HandlerContext) -> int:
    """Accept central's pending RAM invitations (not needed inside one organisation)."""
    if ctx.config.setting("organization_id", None):
        return 0
    ram = ctx.client("ram")
    accepted = 0
    kwargs: dict[str, str] = {}
    while True:
        page = ram.get_resource_share_invitations(**kwargs)
        for invitation in page.get("resourceShareInvitations", []):
            if (
                invitation.get("status") == "PENDING"
                and invitation.get("senderAccountId") == ctx.config.central_account
            ):
                ram.accept_resource_share_invitation(
                    resourceShareInvitationArn=invitation["resourceShareInvitationArn"]
                )
                accepted += 1
        token = page.get("nextToken")
        if not token:
            return accepted
        kwargs = {"nextToken": token}


def ensure_database_link(ctx: HandlerContext, name: str, catalog: str, database: str) -> None:
    """A database resource link ``name`` -> ``catalog``/``database`` (reused when present).

    Created first and read only when it already exists: the common path is one call.
    """
    glue = ctx.client("glue")
    try:
        glue.create_database(
            DatabaseInput={
                "Name": name,
                "TargetDatabase": {"CatalogId": catalog, "DatabaseName": database},
            }
        )
        return
    except Exception as exc:
        if aws_error_code(exc) != "AlreadyExistsException":
            raise
    target = glue.get_database(Name=name)["Database"].get("TargetDatabase") or {}
    if (target.get("CatalogId"), target.get("DatabaseName")) != (catalog, database):
        raise RuntimeError(
            f"database {name} exists and is not a link to {catalog}/{database}; rename or remove it"
        )


def ensure_plain_database(ctx: HandlerContext, name: str, description: str) -> None:
    try:
        ctx.client("glue").create_database(DatabaseInput={"Name": name, "Description": description})
    except Exception as exc:
        if aws_error_code(exc) != "AlreadyExistsException":
            raise


def ensure_table_link(
    ctx: HandlerContext, database: str, name: str, catalog: str, target_db: str, target_table: str
) -> None:
    try:
        ctx.client("glue").create_table(
            DatabaseName=database,
            TableInput={
                "Name": name,
                "TargetTable": {
                    "CatalogId": catalog,
                    "DatabaseName": target_db,
                    "Name": target_table,
                },
            },
        )
    except Exception as exc:
        if aws_error_code(exc) != "AlreadyExistsException":
            raise
