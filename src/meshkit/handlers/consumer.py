"""Consumer-side handlers (in each domain account): accept grants, link, grant own principals.

The consumer's admin grants its named principals on what central granted its account: SELECT
on the target tables (catalog of central) and DESCRIBE on the local resource links.
Revocation removes those grants and the links. A revocation that overtakes its grant
(out-of-order delivery) leaves a tombstone so the late grant is not acted on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshkit.events.access import (
    AccessDenied,
    AccessExpired,
    AccessGranted,
    AccessLinked,
    AccessRevoked,
)
from meshkit.events.products import ProductDeprecationNotice
from meshkit.handlers._common import aws_error_code, iso, link_database_name, require_central
from meshkit.handlers.lake import Grant, apply_grants, grant, revoke_grants, table_resource
from meshkit.handlers.registry import Registry
from meshkit.handlers.sharing import (
    accept_invitations,
    ensure_database_link,
    ensure_plain_database,
    ensure_table_link,
)
from meshkit.runtime.errors import RejectEvent
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import HandlerContext

__all__ = ["router"]

router = EventRouter("domain.consumer")


def _mine(ctx: HandlerContext, consumer_domain: str | None) -> bool:
    return ctx.config.domain is None or ctx.config.domain == consumer_domain


def _principal_grants(ctx: HandlerContext, item: dict[str, Any]) -> list[Grant]:
    out: list[Grant] = []
    for principal in item["principals"]:
        for table in item["tables"]:
            out.append(
                grant(
                    principal,
                    table_resource(item["central_account"], item["central_database"], table),
                    ["SELECT"],
                    grantable=False,
                )
            )
            if item["mode"] == "named":
                out.append(
                    grant(
                        principal,
                        {"Table": {"DatabaseName": item["link_database"], "Name": table}},
                        ["DESCRIBE"],
                        grantable=False,
                    )
                )
        if item["mode"] == "tag":
            out.append(
                grant(
                    principal,
                    {"Database": {"Name": item["link_database"]}},
                    ["DESCRIBE"],
                    grantable=False,
                )
            )
    return out


@router.on(AccessGranted)
def link_granted(event: AccessGranted, ctx: HandlerContext) -> EventDetail | None:
    require_central(ctx)
    if not _mine(ctx, event.consumer_domain):
        return None
    if event.consumer_account != ctx.config.account_id:
        raise RejectEvent(
            f"AccessGranted for account {event.consumer_account} reached {ctx.config.account_id}",
            kind="validation",
        )
    foreign = [p for p in event.principals if p.split(":")[4] != ctx.config.account_id]
    if foreign:
        raise RejectEvent(f"principals {foreign} are not roles of this account", kind="validation")
    allowed = ctx.config.setting("principals", None)
    if allowed:
        unknown = sorted(set(event.principals) - set(allowed))
        if unknown:
            raise RejectEvent(
                f"principals {unknown} are not among this domain's consumer principals; "
                "add them to DataDomain(consumer_principals=...)",
                kind="validation",
            )
    reg = Registry(ctx)
    if reg.get("REVOKED", event.request_id) is not None:
        return None  # the revocation overtook this grant
    accept_invitations(ctx)
    link_db = link_database_name(ctx.config.mesh_name, event.central_database, event.product)
    if event.sharing_mode == "tag":
        ensure_database_link(ctx, link_db, event.central_account, event.central_database)
    else:
        ensure_plain_database(ctx, link_db, f"Links to {event.producer_domain}.{event.product}")
        for table in event.tables:
            ensure_table_link(
                ctx, link_db, table, event.central_account, event.central_database, table
            )
    item = {
        "pk": "ACCESS",
        "sk": event.request_id,
        "request_id": event.request_id,
        "central_account": event.central_account,
        "central_database": event.central_database,
        "tables": list(event.tables),
        "principals": list(event.principals),
        "mode": event.sharing_mode,
        "link_database": link_db,
        "product": event.product,
        "producer_domain": event.producer_domain,
        "linked_at": iso(ctx.now()),
    }
    principal_grants = _principal_grants(ctx, item)
    reg.hold_grants("principals", principal_grants, event.request_id)
    apply_grants(ctx, principal_grants)
    reg.put(item)
    return AccessLinked(
        request_id=event.request_id,
        consumer_domain=event.consumer_domain,
        link_database=link_db,
        links=list(event.tables) if event.sharing_mode == "named" else [],
        principals=event.principals,
        **event.follow_up(),
    )


def _other_users_of(reg: Registry, link_db: str, request_id: str) -> bool:
    return any(
        i["link_database"] == link_db and i["request_id"] != request_id
        for i in reg.query_pk("ACCESS")
    )


@router.on(AccessRevoked)
def unlink_revoked(event: AccessRevoked, ctx: HandlerContext) -> None:
    require_central(ctx)
    if event.consumer_domain is None or not _mine(ctx, event.consumer_domain):
        return  # a producer's copy, or another domain's
    reg = Registry(ctx)
    reg.put(
        {
            "pk": "REVOKED",
            "sk": event.request_id,
            "revoked_at": iso(ctx.now()),
            "reason": event.reason,
        }
    )
    item = reg.get("ACCESS", event.request_id)
    if item is None:
        return
    # Another active request may give the same principal the same table: keep that grant.
    revoke_grants(
        ctx, reg.release_grants("principals", _principal_grants(ctx, item), event.request_id)
    )
    glue = ctx.client("glue")
    shared = _other_users_of(reg, item["link_database"], event.request_id)
    try:
        if item["mode"] == "named":
            for table in item["tables"]:
                if not shared:
                    glue.delete_table(DatabaseName=item["link_database"], Name=table)
        if not shared:
            glue.delete_database(Name=item["link_database"])
    except Exception as exc:
        if aws_error_code(exc) != "EntityNotFoundException":
            raise
    reg.delete("ACCESS", event.request_id)


@router.on(AccessDenied, AccessExpired)
def request_closed(event: AccessDenied | AccessExpired, ctx: HandlerContext) -> None:
    require_central(ctx)
    if not _mine(ctx, event.consumer_domain):
        return
    reason = event.reason if isinstance(event, AccessDenied) else "expired unanswered"
    Registry(ctx).put(
        {
            "pk": "CLOSED",
            "sk": event.request_id,
            "state": event.DETAIL_TYPE,
            "reason": reason,
            "product": f"{event.producer_domain}.{event.product}",
            "at": iso(ctx.now()),
        }
    )


@router.on(ProductDeprecationNotice)
def product_deprecated(event: ProductDeprecationNotice, ctx: HandlerContext) -> None:
    require_central(ctx)
    Registry(ctx).put(
        {
            "pk": "DEPRECATED",
            "sk": f"{event.domain}.{event.product}",
            "reason": event.reason,
            "successor": event.successor,
            "at": iso(ctx.now()),
        }
    )
