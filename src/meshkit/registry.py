"""The registry, readable: typed records of domains, products and access requests, and the names
users must type.

Central's registry is one DynamoDB table (see ``meshkit.handlers.registry`` for its item
layout). This module is its public, read-only face: :class:`RegistryReader` answers "which
domains are there", "what does product ``sales.orders`` hold and how is it classified", "what
happened to request ``r-1``", "which requests does account X have" — as typed models
(:class:`DomainRecord`, :class:`ProductRecord`, :class:`RequestRecord`), never raw items.
The local mesh exposes it as ``mesh.registry`` (and ``mesh.request(id)``,
``mesh.product(domain, name)``, ``mesh.registered_domains()``); the CLI and portal read it the
same way with a boto3 DynamoDB client of the central account.

The naming helpers give the Glue names a user types in a query: the central table of a product
table, and the consumer's resource-link database and table.

Importable without boto3 being configured: the reader takes any DynamoDB client.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from meshkit.handlers._common import (
    central_database_name,
    central_table_name,
    link_database_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "ColumnRecord",
    "CrawlStatus",
    "DomainRecord",
    "ErasureDomainRecord",
    "ErasureFailure",
    "ErasureRecord",
    "ProductRecord",
    "ProductTable",
    "RegistryReader",
    "RequestRecord",
    "TableSchemaRecord",
    "central_database_name",
    "central_table_name",
    "consumer_link_database_name",
    "consumer_link_table_name",
]

RequestState = Literal["PENDING", "APPROVED", "DENIED", "EXPIRED", "REVOKED", "LINK_FAILED"]


def consumer_link_database_name(mesh_name: str, producer_domain: str, product: str) -> str:
    """The database of resource links a consumer gets for ``producer_domain.product``.

    >>> consumer_link_database_name("demo", "sales", "orders")
    'demo_link_sales_orders'
    """
    return link_database_name(mesh_name, central_database_name(mesh_name, producer_domain), product)


def consumer_link_table_name(product: str, table: str) -> str:
    """The name of a product table inside the consumer's link database (the central table's
    name, so named links and tag-shared database links spell it alike).

    >>> consumer_link_table_name("orders", "orders"), consumer_link_table_name("orders", "lines")
    ('orders', 'orders_lines')
    """
    return central_table_name(product, table)


class _Record(BaseModel):
    # Items carry bookkeeping (keys, index attributes) the records leave out.
    model_config = ConfigDict(extra="ignore", frozen=True)


class DomainRecord(_Record):
    """A registered (or deregistered) domain."""

    domain: str
    account_id: str
    storage_uri: str
    sharing_mode: Literal["named", "tag"]
    central_database: str
    status: str = Field(description="ACTIVE or DEREGISTERED.")
    owner: str | None = None
    registered_at: datetime | None = None
    updated_at: datetime | None = None
    reason: str | None = Field(default=None, description="Why it was deregistered.")
    deregistered_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


class ProductTable(_Record):
    """One table of a product, as registered, with its classification."""

    name: str
    central_table: str
    location: str
    pii: bool = False
    pii_columns: list[str] = Field(default_factory=list)
    subject_columns: dict[str, str] | None = Field(
        default=None,
        description="Data-subject identifier -> column, for erasure (docs/erasure.md).",
    )
    sensitive: bool | None = Field(
        default=None,
        description="The producer's explicit classification; None = not stated.",
    )


class ColumnRecord(_Record):
    name: str
    type: str


class TableSchemaRecord(_Record):
    """A table's schema as the last successful crawl found it."""

    name: str
    columns: list[ColumnRecord] = Field(default_factory=list)
    partition_keys: list[ColumnRecord] = Field(default_factory=list)
    location: str | None = None


class CrawlStatus(_Record):
    state: Literal["SUCCEEDED", "FAILED"]
    at: datetime
    crawler: str | None = None
    error: str | None = None


class ProductRecord(_Record):
    """A registered product: its tables, classification, status and last crawl."""

    domain: str
    product: str
    producer_account: str
    central_database: str
    tables: list[ProductTable]
    sharing_mode: Literal["named", "tag"]
    status: str = Field(description="ACTIVE, DEPRECATED or DEREGISTERED.")
    pii: bool = False
    description: str | None = None
    version: int = 0
    retired_tables: list[str] | None = None
    updated_at: datetime | None = None
    crawler_name: str | None = None
    link_database: str | None = None
    schema_: list[TableSchemaRecord] | None = Field(default=None, alias="schema")
    last_crawl: CrawlStatus | None = None
    deprecated_at: datetime | None = None
    deprecation_reason: str | None = None
    successor: str | None = None
    access_ends_at: datetime | None = Field(
        default=None, description="When access granted before the deprecation ends."
    )
    deregistered_at: datetime | None = None

    @property
    def pii_columns(self) -> dict[str, list[str]]:
        """Declared PII columns by central table name (tables with none left out)."""
        return {t.central_table: list(t.pii_columns) for t in self.tables if t.pii_columns}

    def table(self, name: str) -> ProductTable:
        """A table by its product-local name or its central name."""
        for t in self.tables:
            if name in (t.name, t.central_table):
                return t
        raise KeyError(f"product {self.domain}.{self.product} has no table {name!r}")


class RequestRecord(_Record):
    """An access request, its decision and its grants: the audit record."""

    request_id: str
    state: RequestState
    consumer_domain: str
    consumer_account: str
    producer_domain: str
    producer_account: str
    product: str
    central_database: str
    tables: list[str]
    principals: list[str]
    permissions: list[str]
    sharing_mode: Literal["named", "tag"]
    purpose: str | None = None
    duration_days: int | None = None
    sensitive: bool = False
    reasons: list[str] | None = None
    requested_at: datetime | None = None
    expires_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    granted_mode: Literal["named", "tag"] | None = None
    granted_at: datetime | None = None
    access_ends_at: datetime | None = None
    access_end_reason: str | None = Field(
        default=None, description="Why access ends then (a deprecation, say)."
    )
    grants: list[dict[str, Any]] | None = None
    grants_revoked_at: datetime | None = None
    linked_at: datetime | None = None
    link_database: str | None = None
    links: list[str] | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revocation_reason: str | None = None
    expired_at: datetime | None = None
    link_failed_reason: str | None = None
    link_failed_at: datetime | None = None
    correlation_id: str | None = None


ErasureState = Literal[
    "REQUESTED", "PLANNED", "APPROVED", "COMPLETED", "CANCELLED", "STOPPING", "STOPPED"
]


class ErasureFailure(_Record):
    """An object a domain could not purge, and why (never a personal value)."""

    domain: str
    object_uri: str
    reason: str
    attempts: int = 1
    reported_at: datetime | None = None


class ErasureDomainRecord(_Record):
    """One domain's part of an erasure: its tables, plan and evidence."""

    domain: str
    account: str
    state: Literal["DISPATCHED", "PLANNED", "COMPLETED"]
    tables: list[dict[str, Any]] = Field(default_factory=list)
    planned_at: datetime | None = None
    plan_objects: int = 0
    plan_rows: int = 0
    plan_bytes: int = 0
    plan_details: list[dict[str, Any]] = Field(default_factory=list)
    plan_archived: list[str] = Field(default_factory=list)
    plan_unreadable: list[str] = Field(default_factory=list)
    plan_unversioned: bool = False
    plan_method: str | None = None
    completed_at: datetime | None = None
    objects_rewritten: int = 0
    rows_removed: int = 0
    versions_written: list[str] = Field(default_factory=list)
    versions_deleted: int = 0
    noncurrent_kept: int = 0
    objects_failed: int = 0
    objects_skipped: int = 0
    archived: int = 0
    unversioned: bool = False
    remaining: int = 0
    verified: bool = False
    stopped: bool = False


class ErasureRecord(_Record):
    """An erasure, for audit: who asked, who approved, what was removed, when. The subject is
    named by a keyed hash (and the requester's reference), never by its values."""

    erasure_id: str
    state: ErasureState
    subject_ref: str
    subject_hash: str
    key_identifiers: list[str] = Field(default_factory=list)
    requester_account: str
    requested_by: str | None = None
    requested_at: datetime | None = None
    products: list[str] | None = None
    delete_noncurrent: bool = False
    approved_by: str | None = None
    approver_account: str | None = None
    approved_at: datetime | None = None
    cancelled_by: str | None = None
    canceller_account: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    completed_at: datetime | None = None
    correlation_id: str | None = None
    domains: list[ErasureDomainRecord] = Field(default_factory=list)
    failures: list[ErasureFailure] = Field(default_factory=list)

    @property
    def rows_removed(self) -> int:
        return sum(d.rows_removed for d in self.domains)

    @property
    def objects_rewritten(self) -> int:
        return sum(d.objects_rewritten for d in self.domains)

    @property
    def verified(self) -> bool:
        return bool(self.domains) and all(d.verified for d in self.domains)


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deser = TypeDeserializer()
    out = {k: deser.deserialize(v) for k, v in item.items()}
    return {k: _plain(v) for k, v in out.items()}


def _plain(value: Any) -> Any:
    if type(value).__name__ == "Decimal":
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


class RegistryReader:
    """Read-only, typed access to central's registry table.

    ``client`` is a DynamoDB client of the central account, ``table`` the registry table
    name (``MeshConfig.registry_table``). Lookups by key are one consistent ``GetItem``;
    listings by state use the registry's state index; listings by consumer or product are
    audit reads (a filtered scan), meant for people and tools, not for event handlers.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self.table = table

    # -- by key ----------------------------------------------------------------------------
    def _get(self, pk: str) -> dict[str, Any] | None:
        response = self._ddb.get_item(
            TableName=self.table,
            Key={"pk": {"S": pk}, "sk": {"S": "META"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _deserialize(item) if item else None

    def domain(self, name: str) -> DomainRecord | None:
        item = self._get(f"DOMAIN#{name}")
        return DomainRecord.model_validate(item) if item else None

    def product(self, domain: str, product: str) -> ProductRecord | None:
        item = self._get(f"PRODUCT#{domain}#{product}")
        return ProductRecord.model_validate(item) if item else None

    def request(self, request_id: str) -> RequestRecord | None:
        item = self._get(f"REQUEST#{request_id}")
        return RequestRecord.model_validate(item) if item and item.get("state") else None

    def erasure(self, erasure_id: str) -> ErasureRecord | None:
        """The erasure record, with its domains and failures (one Query of its partition)."""
        items = list(
            self._pages(
                self._ddb.query,
                {
                    "TableName": self.table,
                    "KeyConditionExpression": "pk = :p",
                    "ExpressionAttributeValues": {":p": {"S": f"ERASURE#{erasure_id}"}},
                    "ConsistentRead": True,
                },
            )
        )
        meta = next((i for i in items if i["sk"] == "META"), None)
        if meta is None:
            return None
        meta.pop("domains", None)
        return ErasureRecord.model_validate(
            {
                **meta,
                "domains": [i for i in items if i["sk"].startswith("DOMAIN#")],
                "failures": [i for i in items if i["sk"].startswith("FAIL#")],
            }
        )

    # -- listings --------------------------------------------------------------------------
    def domains(self, *, account: str | None = None) -> list[DomainRecord]:
        """Every domain (or those of one account), by name."""
        if account is not None:
            items = self._query("gsi1pk = :p", {":p": {"S": f"ACCOUNT#{account}"}}, index="gsi1")
        else:
            items = self._scan("DOMAIN#")
        return sorted(
            (DomainRecord.model_validate(i) for i in items if i.get("sk") == "META"),
            key=lambda d: d.domain,
        )

    def products(self, domain: str | None = None) -> list[ProductRecord]:
        """Every product of ``domain`` (all domains when None), by name."""
        if domain is not None:
            items = self._query(
                "gsi1pk = :p", {":p": {"S": f"DOMAINPRODUCTS#{domain}"}}, index="gsi1"
            )
        else:
            items = self._scan("PRODUCT#")
        return sorted(
            (ProductRecord.model_validate(i) for i in items),
            key=lambda p: (p.domain, p.product),
        )

    def requests(
        self,
        *,
        state: RequestState | None = None,
        consumer: str | None = None,
        product: tuple[str, str] | None = None,
    ) -> list[RequestRecord]:
        """Requests, filtered by ``state``, ``consumer`` (a domain name or an account id) and
        ``product`` (``(domain, product)``); in request-time order."""
        if state is not None:
            items = self._query("gsi1pk = :p", {":p": {"S": f"REQSTATE#{state}"}}, index="gsi1")
        else:
            items = self._scan("REQUEST#")
        records = [RequestRecord.model_validate(i) for i in items if i.get("state")]
        if consumer is not None:
            records = [r for r in records if consumer in (r.consumer_domain, r.consumer_account)]
        if product is not None:
            records = [r for r in records if (r.producer_domain, r.product) == product]
        return sorted(
            records,
            key=lambda r: (r.requested_at.isoformat() if r.requested_at else "", r.request_id),
        )

    def _query(
        self, condition: str, values: dict[str, Any], *, index: str
    ) -> Iterator[dict[str, Any]]:
        return self._pages(
            self._ddb.query,
            {
                "TableName": self.table,
                "IndexName": index,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
            },
        )

    def _scan(self, prefix: str) -> Iterator[dict[str, Any]]:
        return self._pages(
            self._ddb.scan,
            {
                "TableName": self.table,
                "FilterExpression": "begins_with(pk, :p) AND sk = :m",
                "ExpressionAttributeValues": {":p": {"S": prefix}, ":m": {"S": "META"}},
                "ConsistentRead": True,
            },
        )

    @staticmethod
    def _pages(call: Any, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            response = call(**kwargs)
            for item in response.get("Items", []):
                yield _deserialize(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last
