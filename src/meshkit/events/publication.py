"""Publication of data products to Amazon DataZone, and DataZone subscriptions in the mesh.

Central publishes (it owns the catalog holding every product table): a domain says once how it
wants its products published (``DomainPublicationConfigured``); every schema change that alters
tables or columns republishes (``ProductPublished`` / ``ProductPublicationFailed``); deprecation
and deregistration unpublish (``ProductUnpublished``). A DataZone subscription request becomes
``SubscriptionRequestReceived`` at the subscribing domain, which answers with an ordinary
``AccessRequested``: the mesh's own decision path decides, and central writes the outcome back
to DataZone. The mesh is authoritative for access; DataZone mirrors it.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from meshkit.events.base import AddressedEvent, MeshEvent
from meshkit.events.types import DomainName, LongText, ProductName, RequestId, ShortText, TableName

__all__ = [
    "DataZoneDomainId",
    "DataZoneId",
    "DomainPublicationConfigured",
    "ProductPublicationFailed",
    "ProductPublicationOverride",
    "ProductPublished",
    "ProductUnpublished",
    "SubscriptionRequestReceived",
]

SOURCE = "meshkit.publication"

DataZoneDomainId = Annotated[
    str,
    StringConstraints(pattern=r"^dzd[-_][a-zA-Z0-9_-]{1,36}$"),
    Field(description="DataZone domain id.", examples=["dzd_4p9n6sw4qt9xgn"]),
]
DataZoneId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,36}$"),
    Field(description="A DataZone entity id (project, asset, data source...).", examples=["5x9"]),
]
TableGlob = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_*?\[\]-]{1,255}$"),
    Field(description="A table name or fnmatch glob.", examples=["orders*"]),
]
GlossaryTerm = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,36}$")]


class ProductPublicationOverride(BaseModel):
    """Per-product settings that override the domain's publication settings."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    product: ProductName
    publish: bool = Field(default=True, description="Publish this product at all.", examples=[True])
    glossary_terms: list[GlossaryTerm] | None = Field(
        default=None,
        max_length=20,
        description="Glossary term ids instead of the domain's.",
        examples=[["gt1"]],
    )
    owner: ShortText | None = Field(
        default=None,
        description="Owner shown on this product's assets instead of the domain's.",
        examples=["orders-team@example.com"],
    )


class DomainPublicationConfigured(MeshEvent):
    """A domain asks central to publish its products to a DataZone project (sent by its stack).

    The same project is the domain's identity in DataZone: subscription requests made by this
    project reach this domain. Central accepts one domain per project.
    """

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "DomainPublicationConfigured"

    domain: DomainName
    enabled: bool = Field(
        default=True, description="False stops publishing (and unpublishes).", examples=[True]
    )
    datazone_domain_id: DataZoneDomainId
    project_id: DataZoneId | None = Field(
        default=None, description="Project id (or give project_name).", examples=[None]
    )
    project_name: ShortText | None = Field(
        default=None, description="Project name, resolved by central.", examples=["sales"]
    )
    include_tables: list[TableGlob] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        max_length=50,
        description="Tables to publish (globs over the product's table names).",
        examples=[["*"]],
    )
    exclude_tables: list[TableGlob] = Field(
        default_factory=list,
        max_length=50,
        description="Tables never published (globs).",
        examples=[["staging_*"]],
    )
    glossary_terms: list[GlossaryTerm] = Field(
        default_factory=list,
        max_length=20,
        description="Glossary term ids attached to assets.",
        examples=[["gt1"]],
    )
    owner: ShortText | None = Field(
        default=None,
        description="Owner shown on the assets (default: the owner the domain registered with).",
        examples=["sales-data-team@example.com"],
    )
    products: list[ProductPublicationOverride] = Field(
        default_factory=list,
        max_length=100,
        description="Per-product overrides.",
        examples=[[{"product": "orders", "publish": True}]],
    )

    @model_validator(mode="after")
    def _one_project(self) -> DomainPublicationConfigured:
        if (self.project_id is None) == (self.project_name is None):
            raise ValueError("give exactly one of project_id and project_name")
        names = [p.product for p in self.products]
        if len(names) != len(set(names)):
            raise ValueError(f"products overridden twice: {sorted(names)}")
        return self


class ProductPublished(AddressedEvent):
    """A product's tables are published as DataZone assets (after a run that changed them)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductPublished"

    domain: DomainName
    product: ProductName
    datazone_domain_id: DataZoneDomainId
    project_id: DataZoneId
    data_source_id: DataZoneId
    run_id: DataZoneId
    asset_ids: list[DataZoneId] = Field(
        max_length=100, description="Published asset ids.", examples=[["a1b2"]]
    )
    added: int = Field(default=0, ge=0, description="Assets the run added.", examples=[1])
    updated: int = Field(default=0, ge=0, description="Assets the run updated.", examples=[0])
    unchanged: int = Field(
        default=0, ge=0, description="Assets the run left unchanged.", examples=[0]
    )


class ProductPublicationFailed(AddressedEvent):
    """Publishing a product failed; ``message`` is DataZone's own."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductPublicationFailed"

    domain: DomainName
    product: ProductName
    datazone_domain_id: DataZoneDomainId
    stage: Literal["project", "environment", "data_source", "run"] = Field(
        description="The step that failed.", examples=["run"]
    )
    message: LongText = Field(
        description="What DataZone said.",
        examples=["RESOURCE_NOT_FOUND_EXCEPTION: Glue database demo_sales not found"],
    )


class ProductUnpublished(AddressedEvent):
    """A deprecated or deregistered product's listings were withdrawn from the catalog."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductUnpublished"

    domain: DomainName
    product: ProductName
    datazone_domain_id: DataZoneDomainId
    asset_ids: list[DataZoneId] = Field(
        max_length=100, description="Assets whose listings were withdrawn.", examples=[["a1b2"]]
    )
    reason: ShortText = Field(description="Why.", examples=["deprecated: replaced by orders_v2"])


class SubscriptionRequestReceived(AddressedEvent):
    """A DataZone project mapped to this domain asked to subscribe to a mesh product.

    The domain answers with an ``AccessRequested`` carrying ``request_id`` (or not at all, if it
    has no principal for DataZone subscriptions: central then rejects the subscription).
    """

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "SubscriptionRequestReceived"

    datazone_domain_id: DataZoneDomainId
    subscription_request_id: DataZoneId
    request_id: RequestId
    consumer_domain: DomainName = Field(description="Subscribing domain.", examples=["marketing"])
    producer_domain: DomainName = Field(description="Owning domain.", examples=["sales"])
    product: ProductName
    tables: list[TableName] = Field(
        min_length=1, max_length=100, description="Tables subscribed to.", examples=[["orders"]]
    )
    reason: LongText = Field(
        description="The subscriber's request reason.", examples=["campaign analysis"]
    )
