"""GDPR right to erasure: request, dispatch, plan, decision, per-object purge, completion, record.

The flow (docs/erasure.md): a requester sends ``ErasureRequested`` to central with the subject's
match keys; central sends ``ErasureDispatched`` to every domain whose products declare the keys'
identifiers; each domain finds the subject's rows and answers ``ErasurePlanned`` (objects, row
counts and bytes, never a value); an approver's ``ErasureApproved`` (or the auto-approval policy)
makes central send ``ErasureDecided`` (purge); the domain purges object by object
(``ErasureObjectQueued`` on its own bus), reports poison objects with ``ErasureFailed`` and ends
with ``ErasureCompleted``; central keeps the record and closes with ``ErasureRecorded``.
``ErasureCancelled`` stops it: a plan is dropped, a running purge stops between objects.

Only ``ErasureRequested`` and ``ErasureDispatched`` carry the subject's identifier values (the
domains must match them); every other event names the subject by ``subject_ref`` or not at all.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from meshkit.events.base import AddressedEvent, MeshEvent
from meshkit.events.types import (
    AccountId,
    ColumnName,
    DomainName,
    LongText,
    ProductName,
    S3Uri,
    ShortText,
    TableName,
)

__all__ = [
    "ErasureApproved",
    "ErasureCancelled",
    "ErasureCompleted",
    "ErasureDecided",
    "ErasureDispatched",
    "ErasureFailed",
    "ErasureObjectQueued",
    "ErasurePlanned",
    "ErasureRecorded",
    "ErasureRequested",
    "ErasureTable",
    "PlannedObject",
]

SOURCE = "meshkit.erasure"

_ERASURE_ID = Field(
    min_length=8,
    max_length=128,
    pattern=r"^[A-Za-z0-9._:-]+$",
    description="Identifies one erasure job.",
    examples=["er-2026-11-21-0001"],
)

Identifier = ShortText
MatchValue = Annotated[str, StringConstraints(min_length=1, max_length=256)]
MatchKey = Annotated[dict[Identifier, MatchValue], Field(min_length=1, max_length=5)]

_KEYS = Field(
    min_length=1,
    max_length=20,
    description=(
        "Match keys, identifier -> value: a row is the subject's when it matches every value of "
        "one key (simple: one identifier; composite: several). Identifier values in clear: "
        "they reach the domains holding the subject (docs/erasure.md, limits)."
    ),
    examples=[[{"customer_id": "42"}, {"email": "ada@example.com"}]],
)

#: How many objects an event lists at most (the rest is in the domain's state and counted).
MAX_LISTED = 200


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class ErasureTable(_Part):
    """A product table holding the subject's identifiers, as central registered it."""

    product: ProductName
    table: TableName
    location: S3Uri = Field(
        description="Where the table's objects live.",
        examples=["s3://sales-data-222222222222/products/orders/orders/"],
    )
    subject_columns: dict[Identifier, ColumnName] = Field(
        min_length=1,
        max_length=20,
        description="Identifier -> column, as the product declared it.",
        examples=[{"customer_id": "customer_id"}],
    )


class PlannedObject(_Part):
    """One object a plan rewrites: its exact version and how much of it is the subject's."""

    uri: S3Uri
    version_id: ShortText | None = Field(default=None, description="Version read by the find.")
    rows: int = Field(ge=0, description="Rows in the object.", examples=[500000])
    matching_rows: int = Field(ge=0, description="The subject's rows in it.", examples=[3])
    bytes: int = Field(ge=0, description="Object size.", examples=[10485760])


class ErasureRequested(MeshEvent):
    """Erase one data subject from every product that declares its identifiers (or from the
    products listed). Accepted from central or an account named as an erasure requester."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureRequested"

    erasure_id: str = _ERASURE_ID
    subject_ref: ShortText = Field(
        description="A reference people use for the subject (a ticket), never an identifier.",
        examples=["subj-7f3a"],
    )
    keys: list[MatchKey] = _KEYS
    products: list[ProductName] | None = Field(
        default=None, max_length=100, description="Limit to these products."
    )
    requested_by: ShortText | None = Field(
        default=None, description="Who asks (recorded as given).", examples=["dpo@example.com"]
    )
    delete_noncurrent: bool = Field(
        default=False,
        description="Also delete the noncurrent versions that still hold the rows.",
        examples=[True],
    )


class ErasureDispatched(AddressedEvent):
    """Central asks one domain to find the subject's rows in these tables and plan."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureDispatched"

    erasure_id: str = _ERASURE_ID
    domain: DomainName
    keys: list[MatchKey] = _KEYS
    tables: list[ErasureTable] = Field(
        min_length=1, max_length=100, description="The domain's tables that hold the identifiers."
    )
    delete_noncurrent: bool = Field(
        default=False, description="Delete the noncurrent versions too.", examples=[False]
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
    details: list[PlannedObject] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description=f"Version, rows, matching rows and bytes per object (first {MAX_LISTED}).",
    )
    bytes: int = Field(default=0, ge=0, description="Bytes of the objects to rewrite.")
    archived: list[S3Uri] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description="Objects in Glacier classes: not readable without a restore, not erased.",
    )
    unreadable: list[S3Uri] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description="Objects the find could not read (reported with ErasureFailed at purge).",
    )
    unversioned: bool = Field(
        default=False,
        description="The bucket has no versioning: no conditional rewrite, nothing is purged.",
    )
    method: Literal["index", "scan", "index+scan"] = Field(
        default="scan",
        description="How the objects were found: the subject index, a scan, or both.",
    )
    objects_scanned: int = Field(default=0, ge=0, description="Objects read by the find.")


class ErasureApproved(MeshEvent):
    """A named approver approved the plans (sent to central from an approver account)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureApproved"

    erasure_id: str = _ERASURE_ID
    approved_by: ShortText = Field(description="Who approved.", examples=["dpo@example.com"])


class ErasureDecided(AddressedEvent):
    """Central tells one domain to purge its plan, or to stop (drop the plan, or stop the
    running purge between objects)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureDecided"

    erasure_id: str = _ERASURE_ID
    domain: DomainName
    decision: Literal["purge", "stop"] = Field(description="What to do.", examples=["purge"])
    decided_by: ShortText = Field(
        description="The approver, the canceller or the policy.", examples=["dpo@example.com"]
    )


class ErasureObjectQueued(MeshEvent):
    """One object of an approved plan to purge (on the domain's own bus, never forwarded):
    one event per object bounds each Lambda run and isolates a poison object."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureObjectQueued"

    erasure_id: str = _ERASURE_ID
    domain: DomainName
    object_uri: S3Uri


class ErasureCompleted(MeshEvent):
    """A domain's purge ended (all objects done, or stopped), with its evidence."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureCompleted"

    erasure_id: str = _ERASURE_ID
    domain: DomainName
    objects_rewritten: int = Field(ge=0, description="Objects rewritten.")
    rows_removed: int = Field(ge=0, description="Rows removed.")
    verified: bool = Field(
        description="Every rewritten version was re-read with zero matches and rows = before - "
        "removed, and a new find over the tables found the subject nowhere."
    )
    versions_written: list[ShortText] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description=f"``uri#version`` of the versions written (first {MAX_LISTED}).",
    )
    versions_deleted: int = Field(
        default=0, ge=0, description="Noncurrent versions that held the rows, deleted."
    )
    noncurrent_kept: int = Field(
        default=0,
        ge=0,
        description="Rewritten objects whose old version still holds the rows (not deleted).",
    )
    objects_failed: int = Field(default=0, ge=0, description="Objects left as they were.")
    objects_skipped: int = Field(default=0, ge=0, description="Objects not purged: stopped.")
    archived: int = Field(default=0, ge=0, description="Objects in Glacier classes, not erased.")
    unversioned: bool = Field(default=False, description="The bucket has no versioning.")
    remaining: int = Field(
        default=0, ge=0, description="Objects the verifying find still found the subject in."
    )
    stopped: bool = Field(default=False, description="Stopped before every object was purged.")


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


class ErasureRecorded(MeshEvent):
    """Central closed the erasure mesh-wide; the record (registry) holds the same evidence."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "ErasureRecorded"

    erasure_id: str = _ERASURE_ID
    state: Literal["COMPLETED", "STOPPED", "CANCELLED"] = Field(
        description="How it ended.", examples=["COMPLETED"]
    )
    subject_hash: ShortText = Field(
        description="Keyed hash of the match keys (HMAC-SHA256 with central's erasure key).",
        examples=["hmac-sha256:3f1c…"],
    )
    domains: list[DomainName] = Field(max_length=1000, description="Domains the erasure reached.")
    requester_account: AccountId = Field(description="The account that asked.")
    approved_by: ShortText | None = Field(default=None, description="Approver or policy.")
    objects_rewritten: int = Field(default=0, ge=0, description="Objects rewritten.")
    versions_written: int = Field(default=0, ge=0, description="New object versions written.")
    rows_removed: int = Field(default=0, ge=0, description="Rows removed in all domains.")
    versions_deleted: int = Field(
        default=0, ge=0, description="Noncurrent versions holding the rows, deleted."
    )
    objects_failed: int = Field(default=0, ge=0, description="Objects left as they were.")
    verified: bool = Field(default=False, description="Every domain verified its purge.")
