"""Drop zones for third parties: credentials vended to a partner, uploads accepted or rejected.

These events stay on the domain's own bus (they are not forwarded to central): the domain team
subscribes to them (``DataDomain.add_handler``) to tell a partner why an upload was refused, and
the bus archive keeps them as the audit trail of who could write what, when.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from meshkit.events.base import MeshEvent
from meshkit.events.types import DomainName, LongText, ProductName, S3Uri, TableName

__all__ = [
    "DropZoneCredentialsIssued",
    "DropZoneUploadAccepted",
    "DropZoneUploadRejected",
    "PartnerName",
    "RejectionReason",
]

SOURCE = "meshkit.dropzone"

PartnerName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"),
    Field(
        description="A partner of a drop zone (lowercase letters, digits, '-'; 2..32): its prefix.",
        examples=["acme"],
    ),
]

#: Why an upload was refused: ``format`` (not the partner's declared format, or unreadable),
#: ``size`` (empty or over the limit), ``schema`` (columns missing or of the wrong kind),
#: ``location`` (not under a known partner's prefix).
RejectionReason = Literal["format", "size", "schema", "location"]


class DropZoneCredentialsIssued(MeshEvent):
    """Temporary upload credentials were issued to a partner (by the API or the SFTP login)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "DropZoneCredentialsIssued"

    domain: DomainName
    partner: PartnerName
    caller: Annotated[
        str,
        StringConstraints(
            pattern=r"^(arn:[a-z-]+:(iam|sts)::[0-9]{12}:[A-Za-z0-9+=,.@_/:-]{1,600}"
            r"|sftp:[A-Za-z0-9@._-]{1,100})$"
        ),
    ] = Field(
        description="Who asked: the IAM principal that called the API, or sftp:<user>.",
        examples=["arn:aws:iam::777777777777:role/acme-uploader"],
    )
    channel: Literal["api", "sftp"] = Field(description="How they asked.", examples=["api"])
    prefix: S3Uri = Field(
        description="Where the credentials may write (PutObject only).",
        examples=["s3://sales-dropzone-222222222222/acme/"],
    )
    session_name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{2,64}$")] = Field(
        description="STS RoleSessionName of the session (CloudTrail shows it on every upload).",
        examples=["dropzone-acme-1764763200"],
    )
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="When the credentials expire (absent for SFTP: Transfer Family assumes the "
        "role for each session and renews its credentials itself).",
        examples=["2026-12-03T09:00:00Z"],
    )
    duration_seconds: int | None = Field(
        default=None,
        ge=900,
        le=43200,
        description="Lifetime asked for and granted (API only).",
        examples=[900],
    )


class DropZoneUploadAccepted(MeshEvent):
    """A partner's upload passed validation and was moved into the product's location; the
    product's crawler was started (its ``ProductSchemaUpdated`` follows)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "DropZoneUploadAccepted"

    domain: DomainName
    partner: PartnerName
    product: ProductName
    table: TableName
    source_uri: S3Uri = Field(
        description="Where the partner put it.",
        examples=["s3://sales-dropzone-222222222222/acme/orders-2026-12-03.csv"],
    )
    target_uri: S3Uri = Field(
        description="Where it now lives, under the table's location.",
        examples=[
            "s3://sales-data-222222222222/products/orders/orders/acme--orders-2026-12-03.csv"
        ],
    )
    size: int = Field(ge=1, description="Bytes.", examples=[1024])
    rows: int = Field(ge=0, description="Data rows counted during validation.", examples=[12])
    crawler_name: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field(
        description="The product's crawler, started for this upload.",
        examples=["lake-sales-orders"],
    )


class DropZoneUploadRejected(MeshEvent):
    """A partner's upload failed validation: it was moved to the quarantine prefix, nothing
    reached the product."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "DropZoneUploadRejected"

    domain: DomainName
    partner: PartnerName | None = Field(
        default=None,
        description="The partner whose prefix it was put under (absent: no known prefix).",
        examples=["acme"],
    )
    source_uri: S3Uri = Field(
        description="Where it was put.",
        examples=["s3://sales-dropzone-222222222222/acme/orders.csv"],
    )
    quarantine_uri: S3Uri = Field(
        description="Where it now is (readable by the domain only).",
        examples=["s3://sales-dropzone-222222222222/quarantine/acme/orders.csv"],
    )
    reason: RejectionReason = Field(description="Which rule it broke.", examples=["schema"])
    message: LongText = Field(
        description="What exactly was wrong, to tell the partner.",
        examples=["line 1: the header lacks column 'amount' (expected order_id, amount)"],
    )
    size: int = Field(ge=0, description="Bytes.", examples=[2048])
