"""Consumer-side handlers (in each domain account): accept grants, link, grant own principals.

The consumer's admin grants its named principals on what central granted its account: SELECT
on the target tables (catalog of central) and DESCRIBE on the local resource links.
Revocation removes those grants and the links. A revocation that overtakes its grant
(out-of-order delivery) leaves a tombstone so the late grant is not acted on.

Two requests may share a link database (the same product) and named links: each is counted
(``LINKUSE#<database>`` items, the requests using it), so an unlink reads and writes only the
units of its own request, whatever else the account has linked.

A grant for principals outside the domain's allowlist is refused, not dead-lettered: the
consumer answers ``AccessLinkFailed`` and central ends the request and revokes its grants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshkit.events.access import (
    AccessDenied,
    AccessExpired,
    AccessGranted,
    AccessLinked,
    AccessLinkFailed,
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
from meshkit.runtime.tables import TTL_ATTRIBUTE

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import HandlerContext

__all__ = ["router"]

router = EventRouter("domain.consumer")

#: Tombstones and closed-request notes outlive any late delivery (SQS keeps a message at most
#: 14 days), then DynamoDB's TTL prunes them.
_NOTE_DAYS = 30


def _prune_at(ctx: HandlerContext) -> int:
    return int(ctx.now().timestamp()) + _NOTE_DAYS * 86400


def _link_units(mode: str, tables: list[str]) -> list[str]:
    """What one request's links consist of: the link database, and (named) one link per table."""
    return ["DATABASE", *(f"TABLE#{t}" for t in tables)] if mode == "named" else ["DATABASE"]


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
    require_central(ctx, event)
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
    reg = Registry(ctx)
    if reg.get("REVOKED", event.request_id) is not None:
        return None  # the revocation overtook this grant
    allowed = ctx.config.setting("principals", None)
    if allowed:
        unknown = sorted(set(event.principals) - set(allowed))
        if unknown:
            # A valid grant this domain will not use: refused, and central undoes it.
            return AccessLinkFailed(
                request_id=event.request_id,
                consumer_domain=event.consumer_domain,
                reason=(
                    f"principals {unknown} are not among domain {event.consumer_domain}'s "
                    "consumer principals; add them to DataDomain(consumer_principals=...)"
                )[:256],
                **event.follow_up(),
            )
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
    reg.hold(
        f"LINKUSE#{link_db}", _link_units(event.sharing_mode, list(event.tables)), event.request_id
    )
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


@router.on(AccessRevoked)
def unlink_revoked(event: AccessRevoked, ctx: HandlerContext) -> None:
    require_central(ctx, event)
    if event.consumer_domain is None or not _mine(ctx, event.consumer_domain):
        return  # a producer's copy, or another domain's
    reg = Registry(ctx)
    reg.put(
        {
            "pk": "REVOKED",
            "sk": event.request_id,
            "revoked_at": iso(ctx.now()),
            "reason": event.reason,
            TTL_ATTRIBUTE: _prune_at(ctx),
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
    link_db = item["link_database"]
    # Only the links no other request of this account still uses.
    free = reg.release(
        f"LINKUSE#{link_db}", _link_units(item["mode"], item["tables"]), event.request_id
    )
    for unit in free:
        if unit.startswith("TABLE#") and "DATABASE" not in free:
            _gone_ok(lambda t=unit: glue.delete_table(DatabaseName=link_db, Name=t[6:]))
    if "DATABASE" in free:
        _gone_ok(lambda: glue.delete_database(Name=link_db))  # its links go with it
    reg.delete("ACCESS", event.request_id)


def _gone_ok(call: Any) -> None:
    try:
        call()
    except Exception as exc:
        if aws_error_code(exc) != "EntityNotFoundException":
            raise


@router.on(AccessDenied, AccessExpired, AccessLinkFailed)
def request_closed(
    event: AccessDenied | AccessExpired | AccessLinkFailed, ctx: HandlerContext
) -> None:
    """Keep central's answer (and its reason) where the requesting team looks."""
    require_central(ctx, event)
    if not _mine(ctx, event.consumer_domain):
        return
    if isinstance(event, AccessLinkFailed):
        reason, product = event.reason, None
    else:
        reason = event.reason if isinstance(event, AccessDenied) else "expired unanswered"
        product = f"{event.producer_domain}.{event.product}"
    Registry(ctx).put(
        {
            "pk": "CLOSED",
            "sk": event.request_id,
            "state": event.DETAIL_TYPE,
            "reason": reason,
            "product": product,
            "at": iso(ctx.now()),
            TTL_ATTRIBUTE: _prune_at(ctx),
        }
    )


@router.on(ProductDeprecationNotice)
def product_deprecated(event: ProductDeprecationNotice, ctx: HandlerContext) -> None:
    require_central(ctx, event)
    Registry(ctx).put(
        {
            "pk": "DEPRECATED",
            "sk": f"{event.domain}.{event.product}",
            "reason": event.reason,
            "successor": event.successor,
            "at": iso(ctx.now()),
        }
    )
