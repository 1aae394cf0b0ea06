"""Who belongs to the mesh: an account allowlist, or an AWS Organization narrowed to OU paths.

With an organisation (settings ``organization_id`` and optionally ``organization_paths``), central
asks AWS Organizations for the sender's account: it must be an ACTIVE account of that organisation
whose OU path (``o-…/r-…/ou-…/…/``, the value IAM puts in ``aws:PrincipalOrgPaths``) matches one of
the allowed paths (IAM ``StringLike``: ``*`` any run of characters, ``?`` one character). The answer
is cached per account for ``organization_cache_seconds`` (default 300 s, by the handler's clock), so
a warm Lambda makes at most two Organizations calls per account and TTL, and an account moved out
of an allowed OU is refused at the latest one TTL after the move.

Organizations answers ``DescribeAccount``/``ListParents`` only in the management account or in a
delegated administrator: by default central calls it with its own credentials (register the
governance account as delegated administrator with a resource-based delegation policy); set
``organization_management_account`` to assume ``MESHKIT_CROSS_ACCOUNT_ROLE`` there instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from meshkit.handlers._common import aws_error_code, settings_list
from meshkit.runtime.errors import RejectEvent

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from meshkit.runtime.context import HandlerContext

__all__ = [
    "DEFAULT_CACHE_SECONDS",
    "Standing",
    "clear_cache",
    "org_path_matches",
    "require_member",
    "standing",
]

#: How long one account's membership answer is trusted before Organizations is asked again.
DEFAULT_CACHE_SECONDS = 300

#: ListParents walks at most this many levels (Organizations allows five levels of OUs).
_MAX_DEPTH = 10


@dataclass(frozen=True)
class Standing:
    """One account's membership as central last resolved it."""

    account: str
    member: bool
    #: Why the account is not a member (empty for a member).
    reason: str = ""
    #: The account's OU path (``o-…/r-…/ou-…/``), when it is in the organisation.
    org_path: str | None = None


_CACHE: dict[tuple[str, str, str], tuple[Standing, datetime]] = {}


def clear_cache() -> None:
    """Forget every cached answer (tests; a Lambda simply lets entries expire)."""
    _CACHE.clear()


def _like(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(c) if c not in "*?" else (".*" if c == "*" else ".") for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def org_path_matches(path: str, patterns: Sequence[str]) -> bool:
    """IAM ``ForAnyValue:StringLike`` on ``aws:PrincipalOrgPaths``: any pattern matches the path."""
    return any(_like(p).fullmatch(path) for p in patterns)


def _resolve(ctx: HandlerContext, org_id: str, account: str) -> Standing:
    manager = ctx.config.setting("organization_management_account", None)
    org = ctx.client("organizations", account=str(manager) if manager else None)
    try:
        described = org.describe_account(AccountId=account)["Account"]
    except Exception as exc:
        if aws_error_code(exc) == "AccountNotFoundException":
            return Standing(account, False, f"account {account} is not in organization {org_id}")
        raise
    arn = str(described.get("Arn", ""))
    if f"/{org_id}/" not in arn:
        return Standing(account, False, f"account {account} is not in organization {org_id}")
    status = described.get("State") or described.get("Status") or "ACTIVE"
    if status != "ACTIVE":
        return Standing(account, False, f"account {account} is {status} in organization {org_id}")
    chain: list[str] = []
    child = account
    for _ in range(_MAX_DEPTH):
        parents: list[dict[str, Any]] = org.list_parents(ChildId=child)["Parents"]
        if not parents:
            break
        parent = parents[0]
        chain.append(str(parent["Id"]))
        if parent["Type"] == "ROOT":
            break
        child = str(parent["Id"])
    path = "/".join([org_id, *reversed(chain)]) + "/"
    allowed = settings_list(ctx, "organization_paths")
    if allowed and not org_path_matches(path, allowed):
        return Standing(
            account,
            False,
            f"account {account} is in OU path {path}, outside the mesh's organization_paths "
            f"{allowed}",
            path,
        )
    return Standing(account, True, "", path)


def standing(ctx: HandlerContext, account: str | None = None) -> Standing:
    """Whether ``account`` (default: the sender) is a member of this mesh, and why not."""
    account = account or ctx.sender_account
    org_id = ctx.config.setting("organization_id", None)
    if not org_id:
        members = settings_list(ctx, "member_accounts")
        if members is not None and account not in members:
            return Standing(account, False, f"account {account} is not a member of this mesh")
        return Standing(account, True)
    key = (ctx.config.mesh_name, str(org_id), account)
    now = ctx.now()
    cached = _CACHE.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    result = _resolve(ctx, str(org_id), account)
    ttl = int(ctx.config.setting("organization_cache_seconds", DEFAULT_CACHE_SECONDS))
    if ttl > 0:
        _CACHE[key] = (result, now + timedelta(seconds=ttl))
    return result


def require_member(ctx: HandlerContext, account: str | None = None) -> Standing:
    """Reject the event unless ``account`` (default: the sender) is a member of this mesh."""
    result = standing(ctx, account)
    if not result.member:
        raise RejectEvent(result.reason)
    return result
