"""Small helpers shared by the handlers: trust checks, AWS error codes, names, settings."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from meshkit.runtime.errors import RejectEvent

if TYPE_CHECKING:
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
    "settings_list",
]


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (None for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def require_central(ctx: HandlerContext) -> None:
    """Events central addresses to domains are only trusted when central sent them."""
    if ctx.sender_account != ctx.config.central_account:
        raise RejectEvent(
            f"sender account {ctx.sender_account} is not the mesh's central account "
            f"{ctx.config.central_account}"
        )


def require_own_account(ctx: HandlerContext) -> None:
    """AWS service events (crawler, schedule) must come from this very account."""
    if ctx.sender_account != ctx.config.account_id:
        raise RejectEvent(
            f"AWS service event from account {ctx.sender_account}, expected this account "
            f"{ctx.config.account_id}"
        )


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
