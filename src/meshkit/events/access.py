"""Access lifecycle: request, approval for personal data, grant, link, deny, revoke, expire."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from meshkit.events.base import AddressedEvent, MeshEvent
from meshkit.events.domains import SharingMode
from meshkit.events.types import (
    AccountId,
    DomainName,
    IamRoleArn,
    PrincipalArn,
    ProductName,
    RequestId,
    ShortText,
    TableName,
)

__all__ = [
    "AccessDecided",
    "AccessDenied",
    "AccessExpired",
    "AccessGranted",
    "AccessLinkFailed",
    "AccessLinked",
    "AccessRequested",
    "AccessRevoked",
    "ApprovalRequested",
    "Permission",
]

SOURCE = "meshkit.access"

Permission = Literal["SELECT", "DESCRIBE"]

_TABLES = Field(
    default=None,
    max_length=100,
    description="Tables of the product asked for; absent means every table.",
    examples=[["orders"]],
)


class _RequestFields(MeshEvent):
    request_id: RequestId
    producer_domain: DomainName = Field(
        description="Domain owning the product.", examples=["sales"]
    )
    product: ProductName
    tables: list[TableName] | None = _TABLES
    principals: list[IamRoleArn] = Field(
        min_length=1,
        max_length=20,
        description="Consumer IAM roles that will read; all in the consumer's account.",
        examples=[["arn:aws:iam::333333333333:role/analyst"]],
    )


class AccessRequested(_RequestFields):
    """A consumer domain asks for access to a product (for its own account only)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "AccessRequested"

    consumer_domain: DomainName = Field(description="Requesting domain.", examples=["marketing"])
    purpose: ShortText = Field(
        description="Why the data is needed (kept as the processing record).",
        examples=["campaign attribution"],
    )
    duration_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Access ends after this many days; absent means until revoked.",
        examples=[90],
    )
    permissions: list[Permission] = Field(
        default_factory=lambda: list[Permission](["SELECT", "DESCRIBE"]),
        min_length=1,
        max_length=2,
        description="Lake Formation permissions asked for.",
        examples=[["SELECT", "DESCRIBE"]],
    )

    @model_validator(mode="after")
    def _principals_in_one_account(self) -> AccessRequested:
        accounts = {arn.split(":")[4] for arn in self.principals}
        if len(accounts) != 1:
            raise ValueError(
                "all principals must be roles of the consumer's own account; "
                f"got {sorted(accounts)}"
            )
        return self


class ApprovalRequested(_RequestFields, AddressedEvent):
    """Central asks the producer to decide on a request for sensitive data."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ApprovalRequested"

    consumer_domain: DomainName = Field(description="Requesting domain.", examples=["marketing"])
    consumer_account: AccountId = Field(
        description="Requesting account.", examples=["333333333333"]
    )
    purpose: ShortText = Field(description="The consumer's stated purpose.", examples=["x"])
    duration_days: int | None = Field(
        default=None, ge=1, le=3650, description="Requested duration.", examples=[90]
    )
    reasons: list[ShortText] = Field(
        min_length=1,
        max_length=50,
        description="Why the request needs approval (which flags matched).",
        examples=[["column orders.email has pii_flag=true"]],
    )
    expires_at: AwareDatetime = Field(
        description="The request expires unanswered at this time (UTC).",
        examples=["2026-11-28T00:00:00Z"],
    )


class AccessDecided(MeshEvent):
    """The producer approves or denies a pending request (only the producer's account may)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "AccessDecided"

    request_id: RequestId
    approved: bool = Field(description="True to grant, false to deny.", examples=[True])
    decided_by: PrincipalArn | ShortText = Field(
        description="Who decided (principal ARN or name), kept for the audit trail.",
        examples=["arn:aws:iam::222222222222:role/data-owner"],
    )
    reason: ShortText | None = Field(
        default=None, description="Why; required to deny.", examples=["purpose is compatible"]
    )

    @model_validator(mode="after")
    def _deny_needs_reason(self) -> AccessDecided:
        if not self.approved and not self.reason:
            raise ValueError("a denial needs a reason the consumer can read")
        return self


class AccessGranted(AddressedEvent):
    """Central granted the consumer account; the consumer links and grants its principals."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "AccessGranted"

    request_id: RequestId
    consumer_domain: DomainName = Field(description="Consumer domain.", examples=["marketing"])
    consumer_account: AccountId = Field(description="Consumer account.", examples=["333333333333"])
    producer_domain: DomainName = Field(description="Producer domain.", examples=["sales"])
    product: ProductName
    central_account: AccountId = Field(
        description="Catalog id of the shared resources.", examples=["111111111111"]
    )
    central_database: str = Field(
        min_length=1, max_length=255, description="Shared database.", examples=["sales"]
    )
    tables: list[TableName] = Field(
        min_length=1, max_length=100, description="Central tables granted.", examples=[["x"]]
    )
    principals: list[IamRoleArn] = Field(
        min_length=1, max_length=20, description="Consumer roles to grant on the links."
    )
    permissions: list[Permission] = Field(
        min_length=1, max_length=2, description="Permissions granted.", examples=[["SELECT"]]
    )
    sharing_mode: SharingMode = Field(description="How it was shared.", examples=["named"])
    ram_share_arn: str | None = Field(
        default=None,
        max_length=2048,
        description="RAM share carrying the grant, when one was used.",
        examples=["arn:aws:ram:us-east-1:111111111111:resource-share/abc"],
    )
    lf_tag_expression: dict[str, list[str]] | None = Field(
        default=None,
        description="LF-tag expression granted, in tag-based mode.",
        examples=[{"meshkit:demo:domain": ["sales"], "meshkit:demo:product": ["orders"]}],
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="Access ends at this time (UTC).", examples=[None]
    )


class AccessLinked(MeshEvent):
    """The consumer created its resource links and granted its principals on them."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "AccessLinked"

    request_id: RequestId
    consumer_domain: DomainName = Field(description="Consumer domain.", examples=["marketing"])
    link_database: str = Field(
        min_length=1, max_length=255, description="Consumer-side link database.", examples=["x"]
    )
    links: list[TableName] = Field(
        max_length=100, description="Resource links created (tables).", examples=[["orders"]]
    )
    principals: list[IamRoleArn] = Field(
        min_length=1, max_length=20, description="Principals granted on the links."
    )


class AccessLinkFailed(MeshEvent):
    """The consumer refused a grant (its principals are outside its allowlist, say). Sent by
    the consumer to central, which ends the request (``LINK_FAILED``), revokes what it granted
    and sends the same event back to the consumer with ``recipients`` set.
    """

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "AccessLinkFailed"

    request_id: RequestId
    consumer_domain: DomainName = Field(description="Consumer domain.", examples=["marketing"])
    reason: ShortText = Field(
        description="Why the consumer could not link the grant.",
        examples=["principals [...] are not among this domain's consumer principals"],
    )
    recipients: list[AccountId] | None = Field(
        default=None,
        max_length=100,
        description="Accounts told that the request ended (set by central only).",
        examples=[["333333333333"]],
    )


class AccessDenied(AddressedEvent):
    """The request was denied (by the producer, or by policy), with the reason."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "AccessDenied"

    request_id: RequestId
    consumer_domain: DomainName = Field(description="Consumer domain.", examples=["marketing"])
    producer_domain: DomainName = Field(description="Producer domain.", examples=["sales"])
    product: ProductName
    reason: ShortText = Field(description="Why.", examples=["purpose not compatible"])
    decided_by: ShortText = Field(description="Who decided.", examples=["policy"])


class AccessRevoked(MeshEvent):
    """Access ends. Sent by the producer or consumer to central, then by central to both.

    ``recipients`` is set only on central's notice; a domain's request carries none.
    """

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "AccessRevoked"

    request_id: RequestId
    reason: ShortText = Field(description="Why.", examples=["contract ended"])
    revoked_by: ShortText = Field(description="Who revoked.", examples=["sales"])
    recipients: list[AccountId] | None = Field(
        default=None,
        max_length=100,
        description="Accounts told of the revocation (set by central only).",
        examples=[["333333333333"]],
    )
    consumer_domain: DomainName | None = Field(
        default=None, description="Consumer domain (set by central).", examples=["marketing"]
    )
    link_database: str | None = Field(
        default=None,
        max_length=255,
        description="Consumer link database to clean up (set by central).",
        examples=["sales"],
    )


class AccessExpired(AddressedEvent):
    """A pending request expired unanswered."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "AccessExpired"

    request_id: RequestId
    consumer_domain: DomainName = Field(description="Consumer domain.", examples=["marketing"])
    producer_domain: DomainName = Field(description="Producer domain.", examples=["sales"])
    product: ProductName
