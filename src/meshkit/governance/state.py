"""Desired state (personas file x catalog) and actual state (explicit Lake Formation grants).

The actual state is read by resource type without a principal (never principal and resource
together: that returns computed effective permissions, research §A.1), by hand-written
NextToken loops (botocore has no ListPermissions paginator), skipping rows that RAM shares
derive, grants to IAM_ALLOWED_PRINCIPALS, and the data lake administrators' implicit rows.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from meshkit.governance.grants import (
    FilterSpec,
    Grants,
    Resource,
    State,
    canonical,
    from_api,
    merge,
    tag_expression,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from meshkit.governance.model import PersonasFile, Rule

__all__ = [
    "Catalog",
    "Desired",
    "Refusal",
    "TableInfo",
    "desired_state",
    "read_actual",
    "read_catalog",
    "read_filters",
]

#: The parameter that marks personal data on a database, table or column (as central sets it).
PII_FLAG = "pii_flag"
_READS = frozenset({"SELECT", "ALL"})
_TABLE_PERMS = frozenset({"SELECT", "ALTER", "DROP", "DELETE", "INSERT", "DESCRIBE"})


def _options(grantable: frozenset[str], perms: frozenset[str]) -> frozenset[str]:
    """The grant options that go with ``perms``: those named, or implied by ALL (a rule of
    ``ALL`` with ``grant_option: [SELECT]`` keeps its SELECT grant option)."""
    held = perms | _TABLE_PERMS if "ALL" in perms else perms
    return grantable & held


@dataclass(frozen=True)
class TableInfo:
    """One table of the catalog, as far as permissions care."""

    database: str
    name: str
    columns: tuple[str, ...]
    pii_columns: frozenset[str] = frozenset()
    tags: dict[str, list[str]] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Catalog:
    """The catalog the file is applied to: its account and tables."""

    account: str
    tables: list[TableInfo]

    @property
    def databases(self) -> list[str]:
        return sorted(self.by_database)

    @functools.cached_property
    def by_database(self) -> dict[str, list[TableInfo]]:
        out: dict[str, list[TableInfo]] = {}
        for table in self.tables:
            out.setdefault(table.database, []).append(table)
        return out


@dataclass(frozen=True, order=True)
class Refusal:
    """Personal-data columns a persona's rule matched but may not get (no processing record)."""

    persona: str
    table: str
    columns: tuple[str, ...]


@dataclass
class Desired:
    """The desired state, who owns which principal, and what was refused."""

    state: State
    persona_of: dict[str, str]
    repair: set[str]
    refused: list[Refusal]
    #: Data-cells filters the grants need (resource of kind ``cells_filter`` -> definition).
    filters: dict[Resource, FilterSpec] = field(default_factory=dict)
    #: The personas whose rules define each filter (for the plan's review).
    filter_personas: dict[Resource, tuple[str, ...]] = field(default_factory=dict)


def desired_state(file: PersonasFile, catalog: Catalog) -> Desired:
    """Every grant the file asks for on this catalog, in canonical form."""
    state: State = {}
    persona_of: dict[str, str] = {}
    repair: set[str] = set()
    refused: set[Refusal] = set()
    filters: dict[Resource, FilterSpec] = {}
    owners: dict[Resource, set[str]] = {}
    for persona in file.personas:
        principals = persona.resolved_principals(catalog.account)
        for principal in principals:
            persona_of[principal] = persona.name
            if persona.on_drift == "repair":
                repair.add(principal)
        for rule in persona.rules:
            found: dict[Resource, FilterSpec] = {}
            for resource, perms, grantable in _rule_grants(
                rule, catalog, persona.name, refused, found
            ):
                for principal in principals:
                    merge(state, principal, resource, perms, grantable)
            for resource, spec in found.items():
                _define(filters, owners, resource, spec, persona.name)
    return Desired(
        canonical(state),
        persona_of,
        repair,
        sorted(refused),
        filters,
        {r: tuple(sorted(p)) for r, p in owners.items()},
    )


def _define(
    filters: dict[Resource, FilterSpec],
    owners: dict[Resource, set[str]],
    resource: Resource,
    spec: FilterSpec,
    persona: str,
) -> None:
    """One definition per filter: two rules naming one filter on one table must agree."""
    from meshkit.governance.model import PersonasFileError

    known = filters.get(resource)
    if known is not None and known != spec:
        raise PersonasFileError(
            [
                f"row_filter {resource.name!r} on {resource.database}.{resource.table} is "
                f"defined twice with different rows or columns (personas "
                f"{', '.join(sorted(owners[resource] | {persona}))}): "
                f"{known.describe()!r} and {spec.describe()!r}; give one of them another name"
            ]
        )
    filters[resource] = spec
    owners.setdefault(resource, set()).add(persona)


def _rule_grants(
    rule: Rule,
    catalog: Catalog,
    persona: str,
    refused: set[Refusal],
    filters: dict[Resource, FilterSpec],
) -> Iterable[tuple[Resource, frozenset[str], frozenset[str]]]:
    perms = frozenset(rule.permissions)
    grantable = frozenset(rule.grant_option)
    account = catalog.account
    reads = bool(perms & _READS)
    # A wildcard or tag grant also covers columns added later: only a rule allowed personal
    # data (or one that reads nothing) may use one; the others are expanded table by table and
    # new tables follow through inheritance.
    broad = (rule.pii or not reads) and rule.columns is None and rule.row_filter is None
    database_perms = perms & {"CREATE_TABLE"}
    table_perms = perms - {"CREATE_TABLE"}
    if database_perms and rule.database is not None:
        for db in catalog.databases:
            if _db_matches(rule, db):
                yield (
                    Resource("database", account, database=db),
                    database_perms,
                    _options(grantable, database_perms),
                )
    if not table_perms:
        return
    if broad and rule.lf_tags is not None:
        yield (
            Resource(
                "tag_policy",
                account,
                resource_type="TABLE",
                expression=tag_expression(rule.lf_tags),
            ),
            table_perms,
            _options(grantable, table_perms),
        )
        return
    if broad and rule.all_tables:
        for db in catalog.databases:
            if _db_matches(rule, db):
                yield (
                    Resource("table_wildcard", account, database=db),
                    table_perms,
                    _options(grantable, table_perms),
                )
        return
    if rule.lf_tags is not None:
        candidates = catalog.tables
        matches = rule.matches_table
    else:
        candidates = [
            t for db in catalog.databases if _db_matches(rule, db) for t in catalog.by_database[db]
        ]
        names = _pattern(tuple(rule.tables))

        def matches(database: str, table: str, tags: dict[str, list[str]]) -> bool:
            return names.match(table) is not None

    for table in candidates:
        if not matches(table.database, table.name, table.tags):
            continue
        yield from _table_grants(
            rule, table, account, table_perms, grantable, persona, refused, filters
        )


@functools.lru_cache(maxsize=1024)
def _pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled regular expression for a rule's table globs (fnmatch, case-sensitive)."""
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))


def _db_matches(rule: Rule, database: str) -> bool:
    return rule.database is not None and _pattern((rule.database,)).match(database) is not None


def _table_grants(
    rule: Rule,
    table: TableInfo,
    account: str,
    perms: frozenset[str],
    grantable: frozenset[str],
    persona: str,
    refused: set[Refusal],
    filters: dict[Resource, FilterSpec],
) -> Iterable[tuple[Resource, frozenset[str], frozenset[str]]]:
    name = f"{table.database}.{table.name}"
    whole = Resource("table", account, database=table.database, table=table.name)
    if rule.row_filter is not None:
        if "DESCRIBE" in perms:
            yield whole, frozenset({"DESCRIBE"}), frozenset()
        spec = _filter_spec(rule, table, persona, refused)
        if spec is None:
            return
        cells = Resource(
            "cells_filter",
            account,
            database=table.database,
            table=table.name,
            name=rule.row_filter.name,
        )
        filters[cells] = spec
        yield cells, frozenset({"SELECT"}), frozenset()
        return
    reads = perms & _READS
    if not reads:
        yield whole, perms, _options(grantable, perms)
        return
    # ALL's other permissions stay on the table; reading moves to the allowed columns.
    others = (_TABLE_PERMS - {"SELECT"} if "ALL" in perms else perms - {"SELECT"}) & _TABLE_PERMS
    if not table.columns and not rule.pii:
        # No schema yet (central creates a product's table before its first crawl): which of
        # its columns will hold personal data is unknown, so nothing is read until the crawl
        # reports them (ProductSchemaUpdated grants them within that event).
        if others:
            yield whole, frozenset(others), _options(grantable, frozenset(others))
        return
    columns = set(table.columns)
    restricted = rule.columns is not None
    if rule.columns is not None and rule.columns.include is not None:
        columns &= set(rule.columns.include)
    if rule.columns is not None and rule.columns.exclude is not None:
        columns -= set(rule.columns.exclude)
    if not rule.pii and columns & table.pii_columns:
        refused.add(Refusal(persona, name, tuple(sorted(columns & table.pii_columns))))
        columns -= table.pii_columns
        restricted = True
    if not restricted:
        yield whole, perms, _options(grantable, perms)
        return
    if others:
        yield whole, frozenset(others), _options(grantable, frozenset(others))
    if not columns:
        return
    if rule.pii and rule.columns is not None and rule.columns.exclude is not None:
        excluded = tuple(sorted(set(rule.columns.exclude)))
        resource = Resource("columns", account, table.database, table.name, excluded, excluded=True)
    else:
        resource = Resource("columns", account, table.database, table.name, tuple(sorted(columns)))
    select_grantable = frozenset({"SELECT"}) if grantable & _READS else frozenset()
    yield resource, frozenset({"SELECT"}), select_grantable


def _filter_spec(
    rule: Rule, table: TableInfo, persona: str, refused: set[Refusal]
) -> FilterSpec | None:
    """The data-cells filter a row-filter rule needs on one table (None: no column left).

    Columns follow the same rules as column grants: personal-data columns are left out
    unless the rule is ``pii`` (with a record), and a rule that may not see personal data
    names its columns (an include list), so a column added later is not shown before
    inheritance has checked it. Columns the table does not have are left out.
    """
    assert rule.row_filter is not None
    expression = rule.row_filter.expression
    present = set(table.columns)
    visible = set(present)
    selection = rule.columns
    if selection is not None and selection.include is not None:
        visible &= set(selection.include)
    if selection is not None and selection.exclude is not None:
        visible -= set(selection.exclude)
    if not rule.pii and visible & table.pii_columns:
        refused.add(
            Refusal(
                persona,
                f"{table.database}.{table.name}",
                tuple(sorted(visible & table.pii_columns)),
            )
        )
        visible -= table.pii_columns
    if not visible:
        return None
    if selection is None and (rule.pii or not table.pii_columns):
        return FilterSpec(expression, (), excluded=True)
    if rule.pii and selection is not None and selection.exclude is not None:
        return FilterSpec(expression, tuple(sorted(present - visible)), excluded=True)
    return FilterSpec(expression, tuple(sorted(visible)), excluded=False)


# ---------------------------------------------------------------------------- reading AWS
def read_catalog(
    glue: Any, lakeformation: Any, account: str, *, with_tags: bool = False
) -> Catalog:
    """Every table of ``account``'s Glue catalog, with personal-data flags (and LF-tags)."""
    tables: list[TableInfo] = []
    token: str | None = None
    databases: list[dict[str, Any]] = []
    while True:
        page = glue.get_databases(**({"NextToken": token} if token else {}))
        databases.extend(page.get("DatabaseList", []))
        token = page.get("NextToken")
        if not token:
            break
    for db in databases:
        db_pii = str((db.get("Parameters") or {}).get(PII_FLAG, "")).lower() == "true"
        token = None
        while True:
            kwargs: dict[str, Any] = {"DatabaseName": db["Name"]}
            if token:
                kwargs["NextToken"] = token
            page = glue.get_tables(**kwargs)
            for table in page.get("TableList", []):
                if table.get("TargetTable"):
                    continue  # a resource link: its grants belong to the target's catalog
                tables.append(
                    _table_info(lakeformation, account, db["Name"], table, db_pii, with_tags)
                )
            token = page.get("NextToken")
            if not token:
                break
    return Catalog(account, tables)


def _table_info(
    lakeformation: Any,
    account: str,
    database: str,
    table: dict[str, Any],
    db_pii: bool,
    with_tags: bool,
) -> TableInfo:
    sd = table.get("StorageDescriptor") or {}
    cols = [*(sd.get("Columns") or []), *(table.get("PartitionKeys") or [])]
    names = tuple(str(c["Name"]) for c in cols)
    table_pii = db_pii or str((table.get("Parameters") or {}).get(PII_FLAG, "")).lower() == "true"
    pii = frozenset(
        str(c["Name"])
        for c in cols
        if table_pii or str((c.get("Parameters") or {}).get(PII_FLAG, "")).lower() == "true"
    )
    tags: dict[str, list[str]] = {}
    if with_tags:
        answer = lakeformation.get_resource_lf_tags(
            CatalogId=account,
            Resource={
                "Table": {"CatalogId": account, "DatabaseName": database, "Name": table["Name"]}
            },
        )
        for tag in [*answer.get("LFTagOnDatabase", []), *answer.get("LFTagsOnTable", [])]:
            tags[str(tag["TagKey"]).lower()] = [str(v).lower() for v in tag["TagValues"]]
    return TableInfo(database, str(table["Name"]), names, pii, tags)


#: Resource types read for the actual state (LF_TAG_POLICY alone misses the TABLE policies).
RESOURCE_TYPES = ("DATABASE", "TABLE", "LF_TAG_POLICY_DATABASE", "LF_TAG_POLICY_TABLE")
#: ListPermissions page size (the API's maximum).
PAGE_SIZE = 1000


def _pages(call: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every page of a ``NextToken``-paginated Lake Formation call, by hand (botocore has no
    paginator for these calls with these filters)."""
    token: str | None = None
    while True:
        page: dict[str, Any] = call(**kwargs, **({"NextToken": token} if token else {}))
        yield page
        token = page.get("NextToken")
        if not token:
            return


def _admins(lakeformation: Any, account: str) -> set[str]:
    """The data-lake administrators of ``account`` (their implicit rows are not grants)."""
    settings = lakeformation.get_data_lake_settings(CatalogId=account).get("DataLakeSettings", {})
    return {a["DataLakePrincipalIdentifier"] for a in settings.get("DataLakeAdmins", [])}


def read_actual(
    lakeformation: Any, account: str, principals: Iterable[str] | None = None
) -> tuple[State, int]:
    """Explicit grants in ``account``'s catalog (of ``principals`` if given); and calls made."""
    wanted = set(principals) if principals is not None else None
    admins = _admins(lakeformation, account)
    calls = 1
    state: State = {}
    for resource_type in RESOURCE_TYPES:
        for page in _pages(
            lakeformation.list_permissions,
            CatalogId=account,
            ResourceType=resource_type,
            MaxResults=PAGE_SIZE,
        ):
            calls += 1
            for row in page.get("PrincipalResourcePermissions", []):
                _add_row(state, row, account, admins, wanted)
    return canonical(state), calls


def _add_row(
    state: State, row: dict[str, Any], account: str, admins: set[str], wanted: set[str] | None
) -> None:
    if (row.get("AdditionalDetails") or {}).get("ResourceShare"):
        return  # derived from a RAM share, not an explicit grant
    principal = str((row.get("Principal") or {}).get("DataLakePrincipalIdentifier", ""))
    if not principal or principal == "IAM_ALLOWED_PRINCIPALS" or principal in admins:
        return
    if wanted is not None and principal not in wanted:
        return
    resource = from_api(row.get("Resource") or {}, account)
    if resource is None or resource.catalog != account:
        return
    merge(
        state,
        principal,
        resource,
        row.get("Permissions") or [],
        row.get("PermissionsWithGrantOption") or [],
    )


def empty() -> Grants:
    return Grants(frozenset())


def read_filters(
    lakeformation: Any, account: str, *, tables: set[tuple[str, str]] | None = None
) -> tuple[State, dict[Resource, FilterSpec], int]:
    """The explicit grants on the data-cells filters of ``account``'s catalog, the filters
    themselves, and the calls made.

    Filters come from ListDataCellsFilter (paginated); the grants on each from ListPermissions
    by that DataCellsFilter resource (by resource, without a principal: explicit grants).
    ``tables`` narrows to some (database, table) pairs (inheritance reads only its tables).
    The grants of every principal are read, also those outside the file: the plan deletes a
    filter only when no one else holds a grant on it.
    """
    admins = _admins(lakeformation, account)
    calls = 1
    filters: dict[Resource, FilterSpec] = {}
    for page in _pages(lakeformation.list_data_cells_filter, MaxResults=PAGE_SIZE):
        calls += 1
        for data in page.get("DataCellsFilters", []):
            resource = Resource(
                "cells_filter",
                str(data.get("TableCatalogId") or account),
                database=str(data["DatabaseName"]),
                table=str(data["TableName"]),
                name=str(data["Name"]),
            )
            if resource.catalog != account:
                continue
            if tables is not None and (resource.database, resource.table) not in tables:
                continue
            filters[resource] = FilterSpec.from_api(data)
    state: State = {}
    for resource in sorted(filters):
        for page in _pages(
            lakeformation.list_permissions,
            CatalogId=account,
            Resource=resource.as_api(),
            MaxResults=PAGE_SIZE,
        ):
            calls += 1
            for row in page.get("PrincipalResourcePermissions", []):
                _add_row(state, row, account, admins, None)
    return canonical(state), filters, calls
