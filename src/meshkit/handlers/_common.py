"""Small helpers shared by the handlers: trust checks, AWS error codes, names, settings."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from meshkit import trust
from meshkit.runtime.errors import RejectEvent

if TYPE_CHECKING:
    from collections.abc import Collection

    from meshkit.runtime.context import HandlerContext

__all__ = [
    "aws_error_code",
    "central_database_name",
    "central_table_name",
    "from_iso",
    "iso",
    "link_database_name",
    "require_central",
    "require_own_account",
    "require_sender",
    "settings_list",
]


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (None for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def require_sender(
    ctx: HandlerContext,
    event: object,
    **accounts: str | Collection[str] | None,
) -> None:
    """Reject the event unless its sender is one of the parties ``meshkit.trust`` allows.

    Central, this account (``self``) and AWS in this account are resolved from the config;
    the handler passes the others it resolved from the registry (``owner=``, ``consumer=``,
    ``operator=``, ``datazone=``; None when unknown). The bus is the account's role for mesh
    events, the default bus for AWS service events. Where the table says *member now*, central
    also checks the sender's membership (``meshkit.handlers.membership``).
    """
    r = trust.rule(event)
    bus: trust.Bus = (
        "default" if all(route.bus == "default" for route in r.routes) else ctx.config.role
    )
    known: dict[trust.Party, str | Collection[str] | None] = {
        trust.Party.CENTRAL: ctx.config.central_account,
        trust.Party.SELF: ctx.config.account_id,
        trust.Party.AWS: ctx.config.account_id,
    }
    for name, value in accounts.items():
        known[trust.Party(name)] = value
    reason = trust.check(
        r, sender=ctx.sender_account, bus=bus, accounts=known, group=ctx.config.group or None
    )
    if reason is not None:
        raise RejectEvent(reason, kind="authorisation")
    if r.member and bus == "central" and ctx.sender_account != ctx.config.central_account:
        # An account moved out of the mesh (allowlist, organisation OU paths) acts no more.
        from meshkit.handlers.membership import require_member

        require_member(ctx)


def require_central(ctx: HandlerContext, event: object) -> None:
    """Events central addresses to domains are only trusted when central sent them."""
    require_sender(ctx, event)


def require_own_account(ctx: HandlerContext, event: object) -> None:
    """AWS service events (crawler, schedule, objects) must come from this very account."""
    require_sender(ctx, event)


def _glue_safe(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def central_database_name(mesh_name: str, domain: str) -> str:
    """The domain's database in the central catalog; prefixed so meshes can share an account."""
    return f"{_glue_safe(mesh_name)}_{domain}"


def central_table_name(product: str, table: str) -> str:
    """A product table's name in its domain's central database."""
    return product if table == product else f"{product}_{table}"


def link_database_name(mesh_name: str, central_database: str, product: str | None = None) -> str:
    """A domain-side resource-link database (producer: per domain; consumer: per product)."""
    base = (
        f"{_glue_safe(mesh_name)}_link_{central_database.removeprefix(_glue_safe(mesh_name) + '_')}"
    )
    return f"{base}_{product}" if product else base


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def settings_list(ctx: HandlerContext, name: str) -> list[str] | None:
    """A list setting, or None when it is not set (meaning: no restriction)."""
    value: Any = ctx.config.setting(name, None)
    if value is None:
        return None
    return [str(v) for v in value]
