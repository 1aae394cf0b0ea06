"""Operational events: a handler gave up, or an event was rejected."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from meshkit.events.base import MeshEvent
from meshkit.events.types import AccountId, LongText, ShortText

__all__ = ["EventRejected", "FlowFailed", "RejectionKind"]

SOURCE = "meshkit.operations"

RejectionKind = Literal["validation", "unknown_type", "authorisation", "state"]


class FlowFailed(MeshEvent):
    """A handler failed for good on an event (it goes to the dead-letter queue)."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "FlowFailed"

    handler: ShortText = Field(description="Handler that failed.", examples=["central.access"])
    event_id: ShortText = Field(description="Envelope id of the failed event.", examples=["x"])
    event_source: ShortText = Field(description="Its source.", examples=["meshkit.access"])
    event_detail_type: ShortText = Field(description="Its detail-type.", examples=["x"])
    error_type: ShortText = Field(description="Exception class.", examples=["ClientError"])
    reason: LongText = Field(description="Error message.", examples=["AccessDenied: …"])
    attempts: int = Field(ge=1, description="Deliveries tried.", examples=[5])


class EventRejected(MeshEvent):
    """An event failed validation or an authorisation check and was not acted on."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "EventRejected"

    kind: RejectionKind = Field(description="Why it was rejected.", examples=["authorisation"])
    handler: ShortText = Field(description="Handler that rejected it.", examples=["x"])
    event_id: ShortText = Field(description="Envelope id of the rejected event.", examples=["x"])
    event_source: ShortText = Field(description="Its source.", examples=["meshkit.products"])
    event_detail_type: ShortText = Field(description="Its detail-type.", examples=["x"])
    sender_account: AccountId | None = Field(
        default=None,
        description="Envelope account of the rejected event.",
        examples=["333333333333"],
    )
    reason: LongText = Field(description="What was wrong.", examples=["sender is not owner"])
