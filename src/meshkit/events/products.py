"""Data-product lifecycle: registration, links, crawls, schema updates, deprecation."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from meshkit.events.base import AddressedEvent, MeshEvent
from meshkit.events.domains import SharingMode
from meshkit.events.types import (
    AccountId,
    ColumnName,
    DomainName,
    LongText,
    ProductName,
    S3LocationUri,
    ShortText,
    TableName,
)

__all__ = [
    "Column",
    "ProductCrawlFailed",
    "ProductDeprecated",
    "ProductLinked",
    "ProductRegistered",
    "ProductRegistrationRequested",
    "ProductSchemaUpdated",
    "RegisteredTable",
    "TableSchema",
    "TableSpec",
]

SOURCE = "meshkit.products"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class TableSpec(_Part):
    """One table of a data product, as the producer declares it."""

    name: TableName
    location: S3LocationUri = Field(
        description="Where the table's objects live; must lie under the domain's storage.",
        examples=["s3://sales-data-222222222222/products/orders/orders/"],
    )
    pii: bool = Field(
        default=False,
        description="The whole table holds personal data (sets pii_flag on the table).",
        examples=[False],
    )
    pii_columns: list[ColumnName] = Field(
        default_factory=list,
        max_length=500,
        description="Columns holding personal data (sets pii_flag on each column).",
        examples=[["email"]],
    )
    subject_columns: dict[ShortText, ColumnName] = Field(
        default_factory=dict,
        max_length=20,
        description=(
            "Data-subject identifiers this table holds, identifier -> column: an erasure request "
            "naming these identifiers reaches this table (docs/erasure.md)."
        ),
        examples=[{"customer_id": "customer_id", "email": "email"}],
    )
    description: ShortText | None = Field(
        default=None, description="What the table holds.", examples=["One row per order"]
    )
    sensitive: bool | None = Field(
        default=None,
        description=(
            "The producer's explicit classification. False lets requests for the table be "
            "auto-granted while its schema is not known yet (never crawled, or the last crawl "
            "failed); unset, such a table needs the producer's approval. True always needs it."
        ),
        examples=[False],
    )


class RegisteredTable(_Part):
    """A table as central registered it in its catalog."""

    name: TableName
    central_table: TableName = Field(
        description="The table's name in the central catalog database.", examples=["orders"]
    )
    location: S3LocationUri = Field(
        description="Where the table's objects live.",
        examples=["s3://sales-data-222222222222/products/orders/orders/"],
    )
    subject_columns: dict[ShortText, ColumnName] | None = Field(
        default=None,
        max_length=20,
        description="Data-subject identifiers -> columns, as declared: the domain's subject "
        "index covers these columns (docs/erasure.md).",
        examples=[{"customer_id": "customer_id"}],
    )


class Column(_Part):
    """A column as a crawler found it."""

    name: ColumnName
    type: str = Field(
        min_length=1, max_length=1024, description="Glue (Hive) type.", examples=["string"]
    )


class TableSchema(_Part):
    """A table's schema after a crawl."""

    name: TableName
    columns: list[Column] = Field(
        max_length=1000,
        description="Columns in order.",
        examples=[[{"name": "order_id", "type": "bigint"}]],
    )
    partition_keys: list[Column] = Field(
        default_factory=list,
        max_length=100,
        description="Partition columns.",
        examples=[[{"name": "dt", "type": "string"}]],
    )
    location: S3LocationUri = Field(
        description="Location of the table.",
        examples=["s3://sales-data-222222222222/products/orders/orders/"],
    )


class ProductRegistrationRequested(MeshEvent):
    """A producer asks central to register (or re-register) a data product."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductRegistrationRequested"

    domain: DomainName
    product: ProductName
    tables: list[TableSpec] = Field(
        min_length=1,
        max_length=100,
        description="The product's tables.",
        examples=[[{"name": "orders", "location": "s3://sales-data/products/orders/orders/"}]],
    )
    description: LongText | None = Field(
        default=None, description="What the product offers.", examples=["All web-shop orders"]
    )
    pii: bool = Field(
        default=False,
        description="The whole product holds personal data (sets pii_flag on the database).",
        examples=[True],
    )
    sharing_mode: SharingMode | None = Field(
        default=None,
        description="Overrides the domain's default sharing mode for this product.",
        examples=["tag"],
    )

    @model_validator(mode="after")
    def _unique_tables(self) -> ProductRegistrationRequested:
        names = [t.name for t in self.tables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"table names must be unique within a product; repeated: {dupes}")
        return self


class ProductRegistered(AddressedEvent):
    """Central registered the product and granted the producer what it needs."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductRegistered"

    domain: DomainName
    product: ProductName
    producer_account: AccountId = Field(
        description="The producing domain's account.", examples=["222222222222"]
    )
    central_account: AccountId = Field(
        description="Catalog id of the central catalog.", examples=["111111111111"]
    )
    central_database: str = Field(
        min_length=1,
        max_length=255,
        description="Central catalog database holding the product's tables.",
        examples=["sales"],
    )
    tables: list[RegisteredTable] = Field(
        min_length=1, max_length=100, description="The registered tables."
    )
    sharing_mode: SharingMode = Field(
        description="Sharing mode in force for the product.", examples=["named"]
    )
    changed_tables: list[TableName] = Field(
        default_factory=list,
        max_length=100,
        description="Tables created or changed by this registration (empty: nothing changed).",
        examples=[["orders"]],
    )


class ProductLinked(MeshEvent):
    """The producer created its resource links and started the product's crawler."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductLinked"

    domain: DomainName
    product: ProductName
    link_database: str = Field(
        min_length=1,
        max_length=255,
        description="Producer-side resource-link database pointing at central.",
        examples=["mesh_sales"],
    )
    crawler_name: str = Field(
        min_length=1, max_length=255, description="The product's crawler.", examples=["x"]
    )
    crawl_started: bool = Field(
        description="A crawl was started (false when one was already running).", examples=[True]
    )


class ProductSchemaUpdated(MeshEvent):
    """A crawl succeeded; the product's tables and columns as they are now."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductSchemaUpdated"

    domain: DomainName
    product: ProductName
    crawler_name: str = Field(
        min_length=1, max_length=255, description="The crawler that ran.", examples=["x"]
    )
    tables: list[TableSchema] = Field(
        max_length=100, description="Schemas of the product's tables."
    )
    tables_created: int = Field(default=0, ge=0, description="Tables the crawl created.")
    tables_updated: int = Field(default=0, ge=0, description="Tables the crawl updated.")
    partitions_created: int = Field(default=0, ge=0, description="Partitions created.")


class ProductCrawlFailed(MeshEvent):
    """A crawl of the product failed; the message is the crawler's."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductCrawlFailed"

    domain: DomainName
    product: ProductName
    crawler_name: str = Field(
        min_length=1, max_length=255, description="The crawler that failed.", examples=["x"]
    )
    error_message: LongText = Field(
        description="The crawler's error message.", examples=["Unable to read s3://…"]
    )


class ProductDeprecated(MeshEvent):
    """The producer deprecates a product: no new access requests are accepted."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductDeprecated"

    domain: DomainName
    product: ProductName
    reason: ShortText = Field(description="Why.", examples=["replaced by orders_v2"])
    successor: ProductName | None = Field(
        default=None, description="Product to use instead.", examples=["orders_v2"]
    )
    access_ends_at: AwareDatetime | None = Field(
        default=None,
        description=(
            "When access granted before the deprecation ends (UTC); a time not after now ends "
            "it at once. Absent: the mesh's grace period (setting deprecation_grace_days, "
            "default 90 days). A grant that ends earlier on its own keeps its own end."
        ),
        examples=["2027-03-01T00:00:00Z"],
    )


class ProductDeprecationNotice(AddressedEvent):
    """Central tells the consumers of a deprecated product."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductDeprecationNotice"

    domain: DomainName
    product: ProductName
    reason: ShortText = Field(description="Why.", examples=["replaced by orders_v2"])
    successor: ProductName | None = Field(
        default=None, description="Product to use instead.", examples=["orders_v2"]
    )
    access_ends_at: AwareDatetime | None = Field(
        default=None,
        description="When the recipients' access to the product ends (UTC).",
        examples=["2027-03-01T00:00:00Z"],
    )


__all__ += ["ProductDeprecationNotice"]
