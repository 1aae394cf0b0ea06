"""GDPR right to erasure: request, plan, approval, completion with verification.

Events never carry the data subject's identifier in clear: only a reference that the erasure
service resolves.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from meshkit.events.base import MeshEvent
from meshkit.events.types import DomainName, LongText, ProductName, S3Uri, ShortText

__all__ = [
    "ErasureApproved",
    "ErasureCancelled",
    "ErasureCompleted",
    "ErasureFailed",
    "ErasurePlanned",
    "ErasureRequested",
]

SOURCE = "meshkit.erasure"

_ERASURE_ID = Field(
    min_length=8,
    max_length=128,
    pattern=r"^[A-Za-z0-9._:-]+$",
    description="Identifies one erasure job.",
    examples=["er-2026-11-21-0001"],
)


class ErasureRequested(MeshEvent):
    """Erase one data subject from the products listed (or all that index the subject)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureRequested"

    erasure_id: str = _ERASURE_ID
    subject_ref: ShortText = Field(
        description="Opaque reference to the subject (never the identifier itself).",
        examples=["subj-7f3a"],
    )
    products: list[ProductName] | None = Field(
        default=None, max_length=100, description="Limit to these products."
    )


class ErasurePlanned(MeshEvent):
    """The objects holding the subject were found; the plan awaits approval."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasurePlanned"

    erasure_id: str = _ERASURE_ID
    domain: DomainName
    objects: list[S3Uri] = Field(max_length=1000, description="Objects to rewrite (first 1000).")
    total_objects: int = Field(ge=0, description="All objects to rewrite.")
    rows: int = Field(ge=0, description="Rows to remove.")


class ErasureApproved(MeshEvent):
    """A data-protection officer approved the plan."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureApproved"

    erasure_id: str = _ERASURE_ID
    approved_by: ShortText = Field(description="Who approved.", examples=["dpo@example.com"])


class ErasureCompleted(MeshEvent):
    """Objects were rewritten without the subject and verified."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureCompleted"

    erasure_id: str = _ERASURE_ID
    domain: DomainName
    objects_rewritten: int = Field(ge=0, description="Objects rewritten.")
    rows_removed: int = Field(ge=0, description="Rows removed.")
    verified: bool = Field(description="A re-scan found no remaining row of the subject.")


class ErasureCancelled(MeshEvent):
    """The erasure is cancelled: a plan not yet applied is dropped; a running purge stops
    between objects, every object staying either fully old or fully new."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureCancelled"

    erasure_id: str = _ERASURE_ID
    cancelled_by: ShortText = Field(description="Who cancelled.", examples=["dpo@example.com"])
    reason: ShortText = Field(description="Why.", examples=["request withdrawn by the subject"])


class ErasureFailed(MeshEvent):
    """One object could not be purged (unreadable, or concurrent writers won every retry); the
    rest of the erasure goes on, and the object is reported rather than skipped silently."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureFailed"

    erasure_id: str = _ERASURE_ID
    domain: DomainName
    object_uri: S3Uri = Field(
        description="The object left as it was.",
        examples=["s3://sales-data/products/orders/orders/part-0.parquet"],
    )
    reason: LongText = Field(
        description="What went wrong (never a personal value).",
        examples=["412 PreconditionFailed on 3 attempts: a concurrent writer"],
    )
    attempts: int = Field(ge=1, description="Attempts made.", examples=[3])
