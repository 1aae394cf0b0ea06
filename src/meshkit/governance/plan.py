"""The plan: the exact delta between desired and actual, stable, as a table and as JSON."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from meshkit.governance.grants import FilterSpec, Resource, State
    from meshkit.governance.state import Desired, Refusal

__all__ = ["Change", "FilterChange", "Plan", "compute"]


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


@dataclass(frozen=True, order=True)
class FilterChange:
    """A data-cells filter to create, update or delete (or one the file no longer names,
    only reported)."""

    resource: Resource
    action: Literal["create", "update", "delete", "report"]
    #: The definition the file asks for (None for delete/report).
    spec: FilterSpec | None
    #: The definition in the catalog (None for create).
    current: FilterSpec | None
    personas: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "resource": self.resource.describe(),
            "api_resource": self.resource.as_api(),
            "personas": list(self.personas),
            "table_data": self.spec.table_data(self.resource) if self.spec else None,
            "current": self.current.table_data(self.resource) if self.current else None,
        }


#: Signs of filter changes in the rendered plan.
_FILTER_SIGNS = {"create": "+", "update": "~", "delete": "-", "report": "!"}


@dataclass
class Plan:
    """What apply will do: ``filters`` created/updated, ``grants`` then ``revokes``, filters
    deleted; ``reported`` extras it leaves alone."""

    grants: list[Change] = field(default_factory=list)
    revokes: list[Change] = field(default_factory=list)
    reported: list[Change] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    filters: list[FilterChange] = field(default_factory=list)

    @property
    def filter_changes(self) -> list[FilterChange]:
        """The filter calls apply makes (creates, updates, deletes; not the reported)."""
        return [f for f in self.filters if f.action != "report"]

    @property
    def changes(self) -> int:
        return len(self.grants) + len(self.revokes) + len(self.filter_changes)

    @property
    def plan_id(self) -> str:
        data = self.as_json()
        payload = {"changes": data["changes"], "filters": data["filters"]}
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode())
        return f"p-{digest.hexdigest()[:16]}"

    def as_json(self) -> dict[str, Any]:
        count = {a: sum(1 for f in self.filters if f.action == a) for a in _FILTER_SIGNS}
        return {
            "changes": [c.as_json() for c in [*self.grants, *self.revokes]],
            "filters": [f.as_json() for f in self.filter_changes],
            "filters_reported": [f.as_json() for f in self.filters if f.action == "report"],
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
                "filters_to_create": count["create"],
                "filters_to_update": count["update"],
                "filters_to_delete": count["delete"],
                "filters_reported": count["report"],
            },
        }

    def render(self) -> str:
        """A plain-text table grouped by persona, for a pull-request review."""
        lines: list[str] = []
        if self.filters:
            lines.append("data cells filters")
            for f in self.filters:
                what = f.spec.describe() if f.spec else (f.current.describe() if f.current else "")
                if f.action == "update" and f.current is not None:
                    what = f"{f.current.describe()} -> {what}"
                owner = f" ({', '.join(f.personas)})" if f.personas else ""
                lines.append(f"  {_FILTER_SIGNS[f.action]} {f.resource.describe()}{owner}: {what}")
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
        if self.filters:
            count = {a: sum(1 for f in self.filters if f.action == a) for a in _FILTER_SIGNS}
            lines.append(
                f"filters: {count['create']} to create, {count['update']} to update (~), "
                f"{count['delete']} to delete, {count['report']} not in the file, reported"
            )
        lines.append(
            f"{len(self.grants)} to grant, {len(self.revokes)} to revoke, "
            f"{len(self.reported)} extra grant(s) reported, not removed "
            "(+ grant, - revoke, ! report)"
        )
        return "\n".join(lines)


def compute(
    desired: Desired,
    actual: State,
    filters: Mapping[Resource, FilterSpec] | None = None,
) -> Plan:
    """The delta: only missing permissions are granted, only managed extras revoked.

    Meshkit manages the principals the file names (a managed-principals scope): grants to other
    principals are never read into the plan. An extra grant of a managed principal is revoked
    when its persona says ``on_drift: repair``, reported otherwise.

    ``filters`` are the data-cells filters in the catalog: a filter the file needs is created
    when missing and updated when its rows or columns differ. A filter the file does not name
    is deleted only when every grant on it belongs to an ``on_drift: repair`` persona (those
    grants are revoked first); otherwise it is reported and left alone, like a hand-made grant.
    """
    plan = Plan(refused=list(desired.refused))
    plan.filters = _filter_delta(desired, actual, filters or {})
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


def _filter_delta(
    desired: Desired, actual: State, filters: Mapping[Resource, FilterSpec]
) -> list[FilterChange]:
    out: list[FilterChange] = []
    for resource, spec in desired.filters.items():
        current = filters.get(resource)
        owners = desired.filter_personas.get(resource, ())
        if current is None:
            out.append(FilterChange(resource, "create", spec, None, owners))
        elif current != spec:
            out.append(FilterChange(resource, "update", spec, current, owners))
    for resource, current in filters.items():
        if resource in desired.filters:
            continue
        holders = {p for (p, r) in actual if r == resource}
        personas = tuple(sorted({desired.persona_of.get(p, "") for p in holders} - {""}))
        repaired = bool(holders) and all(
            p in desired.persona_of and p in desired.repair for p in holders
        )
        out.append(
            FilterChange(resource, "delete" if repaired else "report", None, current, personas)
        )
    out.sort(key=lambda f: (f.resource.database, f.resource.table, f.resource.name, f.action))
    return out


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
