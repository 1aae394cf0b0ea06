"""An in-process query engine: DuckDB over the objects a principal was granted, via its links.

Each table the SQL names is resolved through the asking account's catalog (resource links) and
checked twice, as Lake Formation would: the account must hold a usable grant from the catalog
owner, and the principal must hold SELECT from its own account's administrator. Only then are
the objects read (pyarrow, from moto's S3) into an in-memory DuckDB with file access disabled.

Ordinary SQL works over what passes: aliases, joins of several linked tables, subqueries and
CTEs (the check applies to every table the query touches; one refusal refuses the whole
query and names each table refused). A query that reads ``information_schema`` (or DuckDB's
``duckdb_tables()``/``duckdb_columns()``) sees every table the principal may read, as
``<link database>.<table>`` with its granted columns, and nothing else.

SELECT through data-cells filters shows only the filters' rows and columns (several filters
combine cell by cell, see :mod:`meshkit.local.lake.filters`); the filter's expression is the
administrator's, parsed when the filter was created, and runs before the user's SQL sees the
table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from botocore.exceptions import ClientError

from meshkit.local.lake.filters import ReadView, combined_select
from meshkit.local.lake.formats import (
    ObjectUnreadable,
    hive_to_arrow,
    list_objects,
    read_object,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from meshkit.local.lake.catalog import CatalogSimulation
    from meshkit.local.lake.locations import DataLocations
    from meshkit.local.lake.sharing import LakeResource, SharingLedger
    from meshkit.local.types import QueryResult

__all__ = ["QueryEngine", "split_qualified_name"]

_FORMATS = {"parquet": "parquet", "csv": "csv", "json": "json"}
#: Catalog views that list tables: a query reading one sees what the principal may read.
_LISTINGS = ("information_schema", "duckdb_tables", "duckdb_columns")


def split_qualified_name(name: str) -> list[str]:
    """``"my db".t`` -> ["my db", "t"] (DuckDB's qualified names, quotes doubled inside); an
    alias DuckDB reports after the name (``db.t AS o``) is left out."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(name):
        char = name[i]
        if not quoted and char.isspace():
            break  # `` AS alias``
        if quoted:
            if char == '"' and name[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            elif char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"':
            quoted = True
        elif char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class QueryEngine:
    """``LakeSimulation.query``: permission checks, then DuckDB over the granted objects."""

    def __init__(
        self,
        *,
        ledger: SharingLedger,
        catalog: CatalogSimulation,
        client: Callable[[str, str], Any],
        locations: DataLocations,
    ) -> None:
        self._ledger = ledger
        self._catalog = catalog
        self._client = client
        self._locations = locations

    def query(self, account: str, principal: str, sql: str) -> QueryResult:
        from meshkit.local.types import QueryResult

        statements = duckdb.extract_statements(sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            kinds = ", ".join(s.type.name for s in statements) or "nothing"
            raise ValueError(
                f"Only a single SELECT statement can be queried (got {kinds}); "
                "run one SELECT per call."
            )
        con = duckdb.connect(":memory:", config={"enable_external_access": False})
        try:
            try:
                names = con.get_table_names(sql, qualified=True)
            except duckdb.PermissionException as exc:
                raise PermissionError(
                    "Queries read tables through the account's resource links, never files "
                    f"or URLs directly: {exc}"
                ) from exc
            wanted: dict[tuple[str, str], None] = {}
            for qualified in sorted(names):
                parts = split_qualified_name(qualified)
                if len(parts) == 1 and ("/" in parts[0] or "." in parts[0]):
                    raise PermissionError(
                        f"{parts[0]!r} reads a file or URL directly; query tables through "
                        "the account's resource links instead."
                    )
                if len(parts) != 2:
                    raise ValueError(
                        f"Table {qualified!r}: name tables as <database>.<table> of account "
                        f"{account}'s catalog (its resource links)."
                    )
                wanted[(parts[0], parts[1])] = None
            checked: dict[tuple[str, str], _Granted] = {}
            refused: list[str] = []
            for db, name in wanted:
                try:
                    checked[(db, name)] = self._check(account, principal, db, name)
                except PermissionError as exc:
                    refused.append(str(exc))
            if refused:
                raise PermissionError(
                    "The query is refused, it reads tables the principal may not read: "
                    + " | ".join(refused)
                )
            for (db, name), granted in checked.items():
                self._expose(con, db, name, granted, self._read(granted.target))
            if any(word in sql.lower() for word in _LISTINGS):
                for (db, name), granted in self._visible(account, principal).items():
                    if (db, name) not in checked:
                        data = self._schema_only(granted.target)
                        self._expose(con, db, name, granted, data)
            # Nothing the SQL could do can change the sandbox now.
            con.execute("SET lock_configuration = true")
            cursor = con.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            return QueryResult(columns=columns, rows=[tuple(r) for r in cursor.fetchall()])
        finally:
            con.close()

    def _check(self, account: str, principal: str, db: str, name: str) -> _Granted:
        """What ``principal`` may read of ``db.name``; PermissionError naming what is missing."""
        shown = f"{db}.{name}"
        target = self._catalog.resolve_table(account, db, name)
        if target is None:
            raise PermissionError(
                f"{shown}: account {account} has no such table or resource link "
                "(never linked, or the link was removed on revocation)."
            )
        if target.catalog != account:
            held = self._ledger.effective(account, target, issuer=target.catalog)
            if not ({"SELECT", "ALL"} & held):
                raise PermissionError(
                    f"{shown}: the account's grant is missing: account {account} holds no usable "
                    f"Lake Formation SELECT on {target.describe()} from {target.catalog} "
                    "(never granted, revoked, or its RAM invitation is not accepted)."
                    + (
                        " It holds data cells filters of it: the local lake applies filters "
                        "granted within one account only."
                        if self._ledger.filter_views(account, target, issuer=target.catalog)
                        else ""
                    )
                )
        held = self._ledger.effective(principal, target, issuer=account)
        views = self._ledger.filter_views(principal, target, issuer=account)
        if {"SELECT", "ALL"} & held:
            allowed, excluded = self._ledger.columns_for(principal, target, issuer=account)
            views.append(
                ReadView(
                    None,
                    frozenset(allowed) if allowed is not None else None,
                    frozenset(excluded),
                )
            )
        if not views:
            raise PermissionError(
                f"{shown}: the principal's grant is missing: {principal} holds no Lake "
                f"Formation SELECT on {target.describe()} (nor on a data cells filter of it) "
                f"granted in account {account}."
            )
        return _Granted(target, tuple(views))

    def _visible(self, account: str, principal: str) -> dict[tuple[str, str], _Granted]:
        """Every ``db.table`` of the account's catalog the principal may read."""
        glue = self._client(account, "glue")
        out: dict[tuple[str, str], _Granted] = {}
        for database in glue.get_databases().get("DatabaseList", []):
            db = str(database["Name"])
            link = self._catalog.database_link(account, db)
            if link is not None:
                owner = self._client(link[0], "glue")
                try:
                    tables = owner.get_tables(DatabaseName=link[1]).get("TableList", [])
                except ClientError:
                    continue
            else:
                tables = glue.get_tables(DatabaseName=db).get("TableList", [])
            for table in tables:
                try:
                    out[(db, str(table["Name"]))] = self._check(
                        account, principal, db, str(table["Name"])
                    )
                except PermissionError:
                    continue
        return out

    def _schema_only(self, target: LakeResource) -> pa.Table:
        try:
            table = self._catalog.get_table(target)
        except ClientError:
            return _empty([], [])
        sd = table.get("StorageDescriptor") or {}
        return _empty(sd.get("Columns") or [], table.get("PartitionKeys") or [])

    def _expose(
        self,
        con: duckdb.DuckDBPyConnection,
        db: str,
        name: str,
        granted: _Granted,
        data: pa.Table,
    ) -> None:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(db)}")
        staging = f"__meshkit_staging_{db}_{name}"
        con.register(staging, data)
        select = combined_select(_quote(staging), data.column_names, list(granted.views))
        if select is None:
            raise PermissionError(
                f"{db}.{name}: the principal's grants show no column of "
                f"{granted.target.describe()}."
            )
        con.execute(f"CREATE TABLE {_quote(db)}.{_quote(name)} AS {select}")
        # The staging view would let the SQL see rows and columns the grant left out: drop it.
        con.unregister(staging)

    def _read(self, target: LakeResource) -> pa.Table:
        try:
            table = self._catalog.get_table(target)
        except ClientError as exc:
            raise PermissionError(
                f"{target.describe()}: the target table cannot be read: {exc}"
            ) from exc
        sd = table.get("StorageDescriptor") or {}
        columns = sd.get("Columns") or []
        keys = table.get("PartitionKeys") or []
        location = sd.get("Location")
        fmt = _FORMATS.get(str((table.get("Parameters") or {}).get("classification", "")))
        if not location:
            return _empty(columns, keys)
        why = self._locations.unregistered(target.catalog, str(location), target.describe())
        if why is not None:
            raise PermissionError(f"{target.describe()}: {why}.")
        s3 = self._client(target.catalog, "s3")
        parts: list[pa.Table] = []
        try:
            objects = list_objects(s3, str(location))
        except ObjectUnreadable:
            return _empty(columns, keys)
        for obj in objects:
            body = s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
            part = read_object(obj, body, fmt)
            values = [f.split("=", 1)[1] if "=" in f else f for f in obj.folders]
            for key, value in zip(keys, values, strict=False):
                column = pa.array([value] * part.num_rows, pa.string())
                wanted = hive_to_arrow(str(key.get("Type", "string")))
                if wanted is not None and wanted != pa.string():
                    column = column.cast(wanted)
                part = part.append_column(str(key["Name"]), column)
            parts.append(part)
        if not parts:
            return _empty(columns, keys)
        return pa.concat_tables(parts, promote_options="permissive")


@dataclass(frozen=True)
class _Granted:
    """A table a principal passed both checks for, and what its grants show (one view per
    data-cells filter, one for the plain table/column grants)."""

    target: LakeResource
    views: tuple[ReadView, ...]


def _empty(columns: list[dict[str, Any]], keys: list[dict[str, Any]]) -> pa.Table:
    fields = [
        pa.field(str(c["Name"]), hive_to_arrow(str(c.get("Type", "string"))) or pa.string())
        for c in [*columns, *keys]
    ]
    return pa.schema(fields).empty_table()
