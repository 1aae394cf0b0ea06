"""The EventBridge envelope: what a target receives, and the PutEvents entry that produces it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from meshkit.events.base import EventDetail
from meshkit.events.exceptions import EventContractError, EventTooLargeError
from meshkit.events.types import AccountId

__all__ = [
    "MAX_ENTRY_BYTES",
    "EventEnvelope",
    "InvalidEnvelopeError",
    "delivered_envelope",
    "entry_size",
    "parse_envelope",
    "to_put_events_entry",
]

#: PutEvents caps one entry (and one request) at 256 KB.
MAX_ENTRY_BYTES = 256 * 1024


class InvalidEnvelopeError(EventContractError):
    """The delivery is not an EventBridge event."""


class EventEnvelope(BaseModel):
    """An event as EventBridge delivers it to a target (Lambda, or an SQS message body)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    version: str = Field(default="0", description="Always 0.")
    id: str = Field(min_length=1, max_length=128, description="Event id assigned by EventBridge.")
    detail_type: str = Field(alias="detail-type", min_length=1, max_length=128)
    source: str = Field(min_length=1, max_length=256)
    account: AccountId = Field(description="The account that sent the event (the sender's).")
    time: datetime
    region: str = Field(min_length=1, max_length=64)
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any]
    replay_name: str | None = Field(default=None, alias="replay-name")

    @property
    def type_key(self) -> str:
        return f"{self.source}/{self.detail_type}"

    def to_dict(self) -> dict[str, Any]:
        """The envelope as JSON-ready data, with EventBridge's hyphenated keys."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_envelope(raw: Mapping[str, Any] | str | bytes) -> EventEnvelope:
    """Validate a delivered event (a dict, or an SQS body as JSON text)."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidEnvelopeError(f"delivery is not JSON: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise InvalidEnvelopeError(f"delivery is a {type(raw).__name__}, not a JSON object")
    try:
        return EventEnvelope.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEnvelopeError(f"not an EventBridge envelope: {exc}") from exc


def entry_size(entry: Mapping[str, Any]) -> int:
    """Size of a PutEvents entry as EventBridge counts it (UTF-8 bytes of its parts)."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if value:
            size += len(str(value).encode())
    for resource in entry.get("Resources", ()):
        size += len(resource.encode())
    return size


def to_put_events_entry(
    event: EventDetail,
    *,
    bus: str,
    resources: Sequence[str] = (),
    time: datetime | None = None,
) -> dict[str, Any]:
    """A PutEvents entry for ``event`` on ``bus`` (a bus name or ARN)."""
    entry: dict[str, Any] = {
        "Source": event.SOURCE,
        "DetailType": event.DETAIL_TYPE,
        "Detail": event.detail_json(),
        "EventBusName": bus,
    }
    if resources:
        entry["Resources"] = list(resources)
    if time is not None:
        entry["Time"] = time
    size = entry_size(entry)
    if size > MAX_ENTRY_BYTES:
        raise EventTooLargeError(
            f"{event.DETAIL_TYPE} entry is {size} bytes, over EventBridge's 256 KB per entry"
        )
    return entry


def delivered_envelope(
    event: EventDetail,
    *,
    account: str,
    region: str = "us-east-1",
    event_id: str | None = None,
    time: datetime | None = None,
    resources: Sequence[str] = (),
) -> dict[str, Any]:
    """The envelope EventBridge would deliver for ``event`` sent by ``account``."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": event.DETAIL_TYPE,
        "source": event.SOURCE,
        "account": account,
        "time": (time or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": list(resources),
        "detail": json.loads(event.detail_json()),
    }
