"""The canonical grant form: equivalent Lake Formation shapes compare equal.

Lake Formation rewrites grants on read (research §A.1), which is what makes other tools plan
false diffs. Both the desired and the actual state go through :func:`canonical` first:

- a ``TableWithColumns`` with a column wildcard and no exclusions is the ``Table``;
- ``Table{Name: "ALL_TABLES"}`` (and the same as TableWithColumns) is the ``TableWildcard``;
- ``ALL`` absorbs the permissions it implies (so ALL's implicit column grant disappears);
- a grant option implies the permission; order and duplicates do not matter (sets);
- a missing ``CatalogId`` is the caller's account; column names and LF-tag terms are sorted,
  LF-tag keys and values lower-cased (Lake Formation stores them so);
- the DESCRIBE on a database that an all-tables grant implies is not a grant of its own.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

__all__ = ["FilterSpec", "Grants", "Resource", "canonical", "from_api", "merge"]

Kind = Literal["database", "table", "table_wildcard", "columns", "tag_policy", "cells_filter"]

#: What ALL stands for on a table / on a database.
_ALL_TABLE = frozenset({"SELECT", "ALTER", "DROP", "DELETE", "INSERT", "DESCRIBE"})
_ALL_DATABASE = frozenset({"CREATE_TABLE", "ALTER", "DROP", "DESCRIBE"})


class Resource(NamedTuple):
    """A Lake Formation resource in canonical form (a tuple: hashed and ordered in C, which the
    100,000-table plan needs)."""

    kind: Kind
    catalog: str
    database: str = ""
    table: str = ""
    #: ``columns``: the included columns, or with ``excluded`` the left-out ones.
    columns: tuple[str, ...] = ()
    excluded: bool = False
    #: ``tag_policy``: DATABASE or TABLE and the sorted terms.
    resource_type: str = ""
    expression: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: ``cells_filter``: the filter's name.
    name: str = ""

    def as_api(self) -> dict[str, Any]:
        if self.kind == "database":
            return {"Database": {"CatalogId": self.catalog, "Name": self.database}}
        if self.kind == "table":
            return {
                "Table": {
                    "CatalogId": self.catalog,
                    "DatabaseName": self.database,
                    "Name": self.table,
                }
            }
        if self.kind == "table_wildcard":
            return {
                "Table": {
                    "CatalogId": self.catalog,
                    "DatabaseName": self.database,
                    "TableWildcard": {},
                }
            }
        if self.kind == "columns":
            body: dict[str, Any] = {
                "CatalogId": self.catalog,
                "DatabaseName": self.database,
                "Name": self.table,
            }
            if self.excluded:
                body["ColumnWildcard"] = {"ExcludedColumnNames": list(self.columns)}
            else:
                body["ColumnNames"] = list(self.columns)
            return {"TableWithColumns": body}
        if self.kind == "cells_filter":
            return {
                "DataCellsFilter": {
                    "TableCatalogId": self.catalog,
                    "DatabaseName": self.database,
                    "TableName": self.table,
                    "Name": self.name,
                }
            }
        return {
            "LFTagPolicy": {
                "CatalogId": self.catalog,
                "ResourceType": self.resource_type,
                "Expression": [{"TagKey": k, "TagValues": list(v)} for k, v in self.expression],
            }
        }

    def describe(self) -> str:
        """Short text for plans: ``db.table``, ``db.*``, ``db.t(a,b)``, ``db.t(-email)``."""
        if self.kind == "database":
            return self.database
        if self.kind == "table":
            return f"{self.database}.{self.table}"
        if self.kind == "table_wildcard":
            return f"{self.database}.*"
        if self.kind == "columns":
            sign = "-" if self.excluded else ""
            return f"{self.database}.{self.table}({','.join(sign + c for c in self.columns)})"
        if self.kind == "cells_filter":
            return f"{self.database}.{self.table}[{self.name}]"
        terms = " AND ".join(f"{k}={'|'.join(v)}" for k, v in self.expression)
        return f"{self.resource_type} tagged {terms}"


class FilterSpec(NamedTuple):
    """A data-cells filter's definition in canonical form: what the plan compares.

    ``expression`` None is ``AllRowsWildcard``; ``columns`` are the sorted ``ColumnNames``, or
    with ``excluded`` the sorted ``ColumnWildcard.ExcludedColumnNames`` (empty: every column).
    """

    expression: str | None
    columns: tuple[str, ...] = ()
    excluded: bool = True

    def table_data(self, resource: Resource) -> dict[str, Any]:
        """``TableData`` of Create/UpdateDataCellsFilter for the filter ``resource`` names."""
        data: dict[str, Any] = {
            "TableCatalogId": resource.catalog,
            "DatabaseName": resource.database,
            "TableName": resource.table,
            "Name": resource.name,
            "RowFilter": (
                {"AllRowsWildcard": {}}
                if self.expression is None
                else {"FilterExpression": self.expression}
            ),
        }
        if self.excluded:
            data["ColumnWildcard"] = {"ExcludedColumnNames": list(self.columns)}
        else:
            data["ColumnNames"] = list(self.columns)
        return data

    def describe(self) -> str:
        rows = "all rows" if self.expression is None else self.expression
        if self.excluded:
            cols = "all columns" + (f" but {','.join(self.columns)}" if self.columns else "")
        else:
            cols = ",".join(self.columns)
        return f"{rows} | {cols}"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> FilterSpec:
        """A filter as ListDataCellsFilter returns it, canonical."""
        row = data.get("RowFilter") or {}
        expression = row.get("FilterExpression")
        if "ColumnNames" in data and data.get("ColumnWildcard") is None:
            return cls(
                None if expression is None else str(expression),
                tuple(sorted({str(c) for c in data["ColumnNames"]})),
                excluded=False,
            )
        wildcard = data.get("ColumnWildcard") or {}
        return cls(
            None if expression is None else str(expression),
            tuple(sorted({str(c) for c in wildcard.get("ExcludedColumnNames") or ()})),
            excluded=True,
        )


class Grants(NamedTuple):
    """What one principal holds on one resource: permissions and those with grant option."""

    permissions: frozenset[str]
    grantable: frozenset[str] = frozenset()


#: (principal, resource) -> grants; the unit both states and the plan use.
State = dict[tuple[str, Resource], Grants]


def _absorb(resource: Resource, permissions: frozenset[str]) -> frozenset[str]:
    if "ALL" not in permissions:
        return permissions
    implied = _ALL_DATABASE if resource.kind == "database" else _ALL_TABLE
    return permissions - implied


def merge(
    state: State, principal: str, resource: Resource, permissions: Any, grantable: Any = ()
) -> None:
    """Add grants to a state, keeping it canonical."""
    key = (principal, resource)
    old = state.get(key)
    if old is None:
        old = _NONE
    can_grant = _absorb(resource, frozenset(grantable) | old.grantable)
    perms = _absorb(resource, frozenset(permissions) | old.permissions | can_grant)
    # Many keys hold the same grants: share one object (the 100k-table plan makes 100k).
    shared = _SHARED.get((perms, can_grant))
    if shared is None:
        shared = _SHARED.setdefault((perms, can_grant), Grants(perms, can_grant))
    state[key] = shared


_NONE = Grants(frozenset())
_SHARED: dict[tuple[frozenset[str], frozenset[str]], Grants] = {}


def from_api(resource: dict[str, Any], default_catalog: str) -> Resource | None:
    """A ``Resource`` structure as ListPermissions returns it, canonical (None: not modelled)."""
    if not resource:
        return None
    kind, body = next(iter(resource.items()))
    body = body or {}
    catalog = str(body.get("CatalogId") or body.get("TableCatalogId") or default_catalog)
    if kind == "Database":
        return Resource("database", catalog, database=str(body["Name"]))
    if kind in {"Table", "TableWithColumns"}:
        database = str(body["DatabaseName"])
        name = body.get("Name")
        if "TableWildcard" in body or name in (None, "ALL_TABLES"):
            return Resource("table_wildcard", catalog, database=database)
        if kind == "Table":
            return Resource("table", catalog, database=database, table=str(name))
        wildcard = body.get("ColumnWildcard")
        if wildcard is not None:
            excluded = tuple(sorted(set(wildcard.get("ExcludedColumnNames") or ())))
            if not excluded:
                return Resource("table", catalog, database=database, table=str(name))
            return Resource("columns", catalog, database, str(name), excluded, excluded=True)
        columns = tuple(sorted(set(body.get("ColumnNames") or ())))
        return Resource("columns", catalog, database, str(name), columns)
    if kind == "DataCellsFilter":
        return Resource(
            "cells_filter",
            catalog,
            database=str(body["DatabaseName"]),
            table=str(body["TableName"]),
            name=str(body["Name"]),
        )
    if kind == "LFTagPolicy" and "Expression" in body:
        return Resource(
            "tag_policy",
            catalog,
            resource_type=str(body.get("ResourceType", "TABLE")),
            expression=tag_expression(
                {str(t["TagKey"]): [str(v) for v in t["TagValues"]] for t in body["Expression"]}
            ),
        )
    return None


def tag_expression(tags: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(
        sorted((k.lower(), tuple(sorted({v.lower() for v in vs}))) for k, vs in tags.items())
    )


def canonical(state: State) -> State:
    """Drop what other grants imply (the database DESCRIBE of an all-tables grant)."""
    wildcards = {(p, r.catalog, r.database) for (p, r) in state if r.kind == "table_wildcard"}
    out: State = {}
    for (principal, resource), grants in state.items():
        if (
            resource.kind == "database"
            and (principal, resource.catalog, resource.database) in wildcards
        ):
            perms = grants.permissions - {"DESCRIBE"}
            grantable = grants.grantable - {"DESCRIBE"}
            if not perms:
                continue
            grants = Grants(perms, grantable)
        if grants.permissions:
            out[(principal, resource)] = grants
    return out
