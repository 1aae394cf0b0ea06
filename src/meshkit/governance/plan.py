"""The plan: the exact delta between desired and actual, stable, as a table and as JSON."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from meshkit.governance.grants import Resource, State
    from meshkit.governance.state import Desired, Refusal

__all__ = ["Change", "Plan", "compute"]


@dataclass(frozen=True, order=True)
class Change:
    """One grant to add or revoke (or an extra grant only reported)."""

    persona: str
    principal: str
    resource: Resource
    action: Literal["grant", "revoke"]
    permissions: tuple[str, ...]
    grantable: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "persona": self.persona,
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource.describe(),
            "api_resource": self.resource.as_api(),
            "permissions": list(self.permissions),
            "grant_option": list(self.grantable),
        }

    def entry(self, index: int) -> dict[str, Any]:
        """A Batch{Grant,Revoke}Permissions entry."""
        return {
            "Id": f"e{index}",
            "Principal": {"DataLakePrincipalIdentifier": self.principal},
            "Resource": self.resource.as_api(),
            "Permissions": list(self.permissions),
            "PermissionsWithGrantOption": list(self.grantable),
        }


@dataclass
class Plan:
    """What apply will do: ``grants`` then ``revokes``; ``reported`` extras it leaves alone."""

    grants: list[Change] = field(default_factory=list)
    revokes: list[Change] = field(default_factory=list)
    reported: list[Change] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.grants) + len(self.revokes)

    @property
    def plan_id(self) -> str:
        digest = hashlib.sha256(json.dumps(self.as_json()["changes"], sort_keys=True).encode())
        return f"p-{digest.hexdigest()[:16]}"

    def as_json(self) -> dict[str, Any]:
        return {
            "changes": [c.as_json() for c in [*self.grants, *self.revokes]],
            "reported": [c.as_json() for c in self.reported],
            "refused": [
                {
                    **asdict(r),
                    "columns": list(r.columns),
                    "reason": "personal data without a processing_record",
                }
                for r in self.refused
            ],
            "summary": {
                "grants": len(self.grants),
                "revokes": len(self.revokes),
                "reported": len(self.reported),
                "refused": len(self.refused),
            },
        }

    def render(self) -> str:
        """A plain-text table grouped by persona, for a pull-request review."""
        lines: list[str] = []
        by_persona: dict[str, list[tuple[str, Change]]] = {}
        for sign, items in (("+", self.grants), ("-", self.revokes), ("!", self.reported)):
            for change in items:
                by_persona.setdefault(change.persona, []).append((sign, change))
        for persona in sorted(by_persona):
            lines.append(f"persona {persona or '(not in the file)'}")
            rows = [
                (
                    sign,
                    c.principal,
                    c.resource.describe(),
                    ",".join(c.permissions)
                    + (f" (grant option: {','.join(c.grantable)})" if c.grantable else ""),
                )
                for sign, c in by_persona[persona]
            ]
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for row in rows:
                lines.append(
                    "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                )
        for refusal in self.refused:
            lines.append(
                f"refused {refusal.persona}: {refusal.table}({','.join(refusal.columns)}): "
                "personal data needs pii: true and a processing_record"
            )
        lines.append(
            f"{len(self.grants)} to grant, {len(self.revokes)} to revoke, "
            f"{len(self.reported)} extra grant(s) reported, not removed "
            "(+ grant, - revoke, ! report)"
        )
        return "\n".join(lines)


def compute(desired: Desired, actual: State) -> Plan:
    """The delta: only missing permissions are granted, only managed extras revoked.

    Meshkit manages the principals the file names (a managed-principals scope): grants to other
    principals are never read into the plan. An extra grant of a managed principal is revoked
    when its persona says ``on_drift: repair``, reported otherwise.
    """
    plan = Plan(refused=list(desired.refused))
    empty_perms: frozenset[str] = frozenset()
    for key in set(desired.state) | set(actual):
        principal, resource = key
        if principal not in desired.persona_of:
            continue
        persona = desired.persona_of[principal]
        want = desired.state.get(key)
        have = actual.get(key)
        if want == have:
            continue
        want_p, want_g = (want.permissions, want.grantable) if want else (empty_perms, empty_perms)
        have_p, have_g = (have.permissions, have.grantable) if have else (empty_perms, empty_perms)
        add_g = want_g - have_g
        add_p = (want_p - have_p) | add_g
        if add_p:
            plan.grants.append(
                Change(
                    persona,
                    principal,
                    resource,
                    "grant",
                    tuple(sorted(add_p)),
                    tuple(sorted(add_g)),
                )
            )
        del_p = have_p - want_p
        del_g = (have_g - want_g) - del_p
        if del_p or del_g:
            # Revoking only a grant option keeps the permission: name it in the grant-option
            # list alone.
            change = Change(
                persona,
                principal,
                resource,
                "revoke",
                tuple(sorted(del_p)),
                tuple(sorted(del_g | (have_g & del_p))),
            )
            superseded = _covered(desired.state, principal, resource, del_p)
            managed = principal in desired.repair or superseded
            (plan.revokes if managed else plan.reported).append(change)
    # Stable order for review, sorted once over the changes rather than over every grant.
    for items in (plan.grants, plan.revokes, plan.reported):
        items.sort(key=_order)
    return plan


def _order(change: Change) -> tuple[Any, ...]:
    r = change.resource
    return (
        change.persona,
        change.principal,
        r.kind,
        r.database,
        r.table,
        r.columns,
        r.name,
        r.resource_type,
        r.expression,
        change.action,
    )


def _covered(state: State, principal: str, resource: Resource, permissions: frozenset[str]) -> bool:
    """Whether the desired grants already give everything ``permissions`` on ``resource`` give.

    Such an extra grant is a stale shape of the file's own grant (a column list before a new
    column appeared): revoking it changes no access, so it is revoked for every persona.
    """
    from meshkit.governance.grants import Resource as R

    if resource.kind != "columns" or resource.excluded or permissions - {"SELECT"}:
        return False
    reads = {"SELECT", "ALL"}
    table = R("table", resource.catalog, database=resource.database, table=resource.table)
    wildcard = R("table_wildcard", resource.catalog, database=resource.database)
    for candidate in (table, wildcard):
        held = state.get((principal, candidate))
        if held is not None and held.permissions & reads:
            return True
    for (who, other), held in state.items():
        if who != principal or other.kind != "columns" or "SELECT" not in held.permissions:
            continue
        if (other.database, other.table) != (resource.database, resource.table):
            continue
        if other.excluded and not set(other.columns) & set(resource.columns):
            return True
        if not other.excluded and set(resource.columns) <= set(other.columns):
            return True
    return False
