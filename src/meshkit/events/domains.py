"""Domain lifecycle: a domain account joins (or leaves) the mesh."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from meshkit.events.base import AddressedEvent, MeshEvent
from meshkit.events.types import AccountId, DomainName, S3LocationUri, ShortText

__all__ = [
    "DomainDeregistered",
    "DomainDeregistrationRequested",
    "DomainRegistered",
    "DomainRegistrationRequested",
    "SharingMode",
]

SOURCE = "meshkit.domains"

#: ``named``: grants on named tables, shared through RAM, one resource link per table.
#: ``tag``: LF-tag expression grants, one database resource link.
SharingMode = Literal["named", "tag"]


class DomainRegistrationRequested(MeshEvent):
    """A domain account asks central to join the mesh (sent when its stack deploys)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "DomainRegistrationRequested"

    domain: DomainName
    account_id: AccountId = Field(
        description="The account hosting the domain; must equal the sender account.",
        examples=["222222222222"],
    )
    storage_uri: S3LocationUri = Field(
        description="Every data product location of this domain must lie under this prefix.",
        examples=["s3://sales-data-222222222222/products/"],
    )
    sharing_mode: SharingMode = Field(
        default="named",
        description="Default sharing mode of the domain's products.",
        examples=["named"],
    )
    owner: ShortText | None = Field(
        default=None,
        description="Team or contact that owns the domain.",
        examples=["sales-data-team@example.com"],
    )
    description: ShortText | None = Field(
        default=None, description="What the domain is about.", examples=["Sales orders"]
    )


class DomainRegistered(AddressedEvent):
    """Central recorded the domain and created its catalog database and LF-tag value."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "DomainRegistered"

    domain: DomainName
    account_id: AccountId = Field(description="The domain's account.", examples=["222222222222"])
    central_database: str = Field(
        min_length=1,
        max_length=255,
        description="The domain's database in the central catalog.",
        examples=["sales"],
    )
    lf_tag_key: str = Field(
        min_length=1,
        max_length=128,
        description="LF-tag key whose value is the domain name (tag-based sharing); one key "
        "per mesh, so meshes sharing a central account never match each other's tables.",
        examples=["meshkit:demo:domain"],
    )
    sharing_mode: SharingMode = Field(
        description="Default sharing mode recorded for the domain.", examples=["named"]
    )


class DomainDeregistrationRequested(MeshEvent):
    """A domain account asks to leave the mesh (sent when its stack is deleted)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "DomainDeregistrationRequested"

    domain: DomainName
    account_id: AccountId = Field(
        description="The domain's account; must equal the sender account.",
        examples=["222222222222"],
    )
    reason: ShortText | None = Field(
        default=None, description="Why the domain leaves.", examples=["stack deleted"]
    )


class DomainDeregistered(AddressedEvent):
    """Central removed the domain; its products no longer accept access requests."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "DomainDeregistered"

    domain: DomainName
    account_id: AccountId = Field(description="The domain's account.", examples=["222222222222"])
    reason: ShortText | None = Field(
        default=None, description="Why the domain left.", examples=["stack deleted"]
    )
