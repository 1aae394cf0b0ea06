"""Cross-catalog Glue reads and database resource-link resolution, gated by the ledger.

moto ignores ``CatalogId`` (a read names the caller's own catalog, research §1) and stores
resource links without resolving them (§3); these hooks answer such reads as AWS does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from meshkit.local.lake._aws import Answer, LakeClientError, answer, fail
from meshkit.local.lake.sharing import LakeResource

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from meshkit.local.lake.sharing import SharingLedger

__all__ = ["CatalogSimulation", "database_state_change", "table_ref"]

#: Glue's catalog event (source aws.glue), for the calls AWS sends it for.
DATABASE_STATE_CHANGE = "Glue Data Catalog Database State Change"


def database_state_change(
    region: str, catalog: str, op: str, params: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]] | None:
    """The detail and resources of ``Glue Data Catalog Database State Change`` for a
    successful Glue call (None for a call AWS sends no such event for)."""
    prefix = f"arn:aws:glue:{region}:{catalog}"
    if op in {"CreateDatabase", "DeleteDatabase"}:
        name = str((params.get("DatabaseInput") or {}).get("Name") or params.get("Name") or "")
        detail: dict[str, Any] = {"databaseName": name, "typeOfChange": op, "changedTables": []}
        return detail, [f"{prefix}:database/{name}"]
    if op in {"CreateTable", "DeleteTable", "BatchDeleteTable"}:
        database = str(params.get("DatabaseName", ""))
        if op == "CreateTable":
            tables = [str((params.get("TableInput") or {}).get("Name", ""))]
        elif op == "DeleteTable":
            tables = [str(params.get("Name", ""))]
        else:
            tables = [str(t) for t in params.get("TablesToDelete") or []]
        detail = {"databaseName": database, "typeOfChange": op, "changedTables": tables}
        return detail, [f"{prefix}:table/{database}/{t}" for t in tables]
    return None


#: Reads answered from another account's catalog when the caller holds a usable grant.
_CROSS_READS = frozenset(
    {"GetDatabase", "GetTable", "GetTables", "GetPartitions", "GetPartition", "BatchGetPartition"}
)
#: Reads that follow a database resource link to its target, as AWS does.
_LINK_READS = _CROSS_READS - {"GetDatabase"}


def table_ref(catalog: str, database: str, table: str) -> LakeResource:
    return LakeResource("table", catalog, database=database, table=table)


class CatalogSimulation:
    """Glue ``before-call`` behaviour for reads across catalogs and through links."""

    def __init__(
        self,
        ledger: SharingLedger,
        client: Callable[[str, str], Any],
        attached: Callable[[str], bool],
    ) -> None:
        self._ledger = ledger
        self._client = client
        self._attached = attached

    def before(self, account: str, op: str, params: Mapping[str, Any]) -> Answer | None:
        catalog = str(params.get("CatalogId") or account)
        if catalog != account:
            if op not in _CROSS_READS:
                raise NotImplementedError(
                    f"meshkit's local lake does not simulate cross-catalog glue.{op} "
                    f"(CatalogId={catalog} from account {account}); only {sorted(_CROSS_READS)} "
                    "are answered across accounts. Make the call in the catalog owner's account."
                )
            return self._read(account, catalog, op, params)
        if op in _LINK_READS and "DatabaseName" in params:
            target = self.database_link(account, str(params["DatabaseName"]))
            if target is not None:
                linked = {**params, "CatalogId": target[0], "DatabaseName": target[1]}
                if target[0] == account:
                    return self._forward(account, op, linked)
                return self._read(account, target[0], op, linked)
        return None

    def after(self, account: str, op: str, params: Mapping[str, Any]) -> None:
        """A deleted table or database takes its grants and LF-tags with it."""
        catalog = str(params.get("CatalogId") or account)
        if op == "DeleteTable":
            self._ledger.forget_resource(catalog, str(params["DatabaseName"]), str(params["Name"]))
        elif op == "BatchDeleteTable":
            for name in params.get("TablesToDelete", []):
                self._ledger.forget_resource(catalog, str(params["DatabaseName"]), str(name))
        elif op == "DeleteDatabase":
            self._ledger.forget_resource(catalog, str(params["Name"]), None)

    # ------------------------------------------------------------------ resolution
    def database_link(self, account: str, database: str) -> tuple[str, str] | None:
        """(catalog, database) a database resource link in ``account`` points at, or None."""
        try:
            found = self._client(account, "glue").get_database(Name=database)["Database"]
        except ClientError:
            return None
        target = found.get("TargetDatabase")
        if not target:
            return None
        return str(target.get("CatalogId") or account), str(target["DatabaseName"])

    def resolve_table(self, account: str, database: str, table: str) -> LakeResource | None:
        """The table ``database.table`` of ``account``'s catalog stands for, following links."""
        link = self.database_link(account, database)
        if link is not None:
            return table_ref(link[0], link[1], table)
        try:
            found = self._client(account, "glue").get_table(DatabaseName=database, Name=table)
        except ClientError:
            return None
        target = found["Table"].get("TargetTable")
        if target:
            return table_ref(
                str(target.get("CatalogId") or account),
                str(target["DatabaseName"]),
                str(target["Name"]),
            )
        return table_ref(account, database, table)

    def get_table(self, ref: LakeResource) -> dict[str, Any]:
        """The table definition in its own catalog (raises ClientError when missing)."""
        table: dict[str, Any] = self._client(ref.catalog, "glue").get_table(
            DatabaseName=ref.database, Name=ref.table
        )["Table"]
        return table

    # ------------------------------------------------------------------ reads
    def _read(self, account: str, catalog: str, op: str, params: Mapping[str, Any]) -> Answer:
        if not self._attached(catalog):
            return fail(LakeClientError("EntityNotFoundException", f"Catalog {catalog} not found."))
        database = str(params.get("DatabaseName") or params.get("Name"))
        if op == "GetDatabase":
            if not self._ledger.visible(account, catalog, database, issuer=catalog):
                return fail(_denied(database))
            return self._forward(catalog, op, params)
        if op == "GetTables":
            return self._tables(account, catalog, database, params)
        name = str(params["Name"] if op == "GetTable" else params["TableName"])
        held = self._ledger.effective(account, table_ref(catalog, database, name), issuer=catalog)
        if not held:
            return fail(_denied(f"{database}.{name}"))
        return self._forward(catalog, op, params)

    def _tables(
        self, account: str, catalog: str, database: str, params: Mapping[str, Any]
    ) -> Answer:
        if not self._ledger.visible(account, catalog, database, issuer=catalog):
            return fail(_denied(database))
        forwarded = self._call(catalog, "GetTables", params)
        if isinstance(forwarded, LakeClientError):
            return fail(forwarded)
        visible = [
            table
            for table in forwarded.get("TableList", [])
            if self._ledger.effective(
                account, table_ref(catalog, database, str(table["Name"])), issuer=catalog
            )
        ]
        return answer({"TableList": visible})

    def _forward(self, catalog: str, op: str, params: Mapping[str, Any]) -> Answer:
        result = self._call(catalog, op, params)
        if isinstance(result, LakeClientError):
            return fail(result)
        return answer(result)

    def _call(
        self, catalog: str, op: str, params: Mapping[str, Any]
    ) -> dict[str, Any] | LakeClientError:
        client = self._client(catalog, "glue")
        kwargs = {k: v for k, v in params.items() if k != "CatalogId"}
        try:
            result: dict[str, Any] = getattr(client, _snake(op))(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
            return LakeClientError(str(error.get("Code")), str(error.get("Message")), status)
        result.pop("ResponseMetadata", None)
        return result


def _denied(name: str) -> LakeClientError:
    return LakeClientError(
        "AccessDeniedException", f"Insufficient Lake Formation permission(s) on {name}"
    )


def _snake(op: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in op).lstrip("_")
