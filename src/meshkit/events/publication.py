"""Publication of data products to Amazon DataZone."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from meshkit.events.base import MeshEvent
from meshkit.events.types import DomainName, ProductName, ShortText

__all__ = ["ProductPublished"]

SOURCE = "meshkit.publication"


class ProductPublished(MeshEvent):
    """A product's tables were published as assets to a DataZone project."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ProductPublished"

    domain: DomainName
    product: ProductName
    datazone_domain_id: str = Field(
        pattern=r"^dzd[-_][a-zA-Z0-9_-]{1,36}$",
        description="DataZone domain id.",
        examples=["dzd_4p9n6sw4qt9xgn"],
    )
    project_id: str = Field(
        pattern=r"^[a-zA-Z0-9_-]{1,36}$", description="DataZone project id.", examples=["5x9"]
    )
    asset_ids: list[ShortText] = Field(
        max_length=100, description="Published asset ids.", examples=[["a1b2"]]
    )
