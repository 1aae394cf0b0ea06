"""Base classes for event details: mesh events (ours) and AWS service events (theirs)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshkit.events.exceptions import EventContractError, EventTooLargeError
from meshkit.events.types import MAX_DETAIL_BYTES, AccountId, CorrelationId

__all__ = ["AddressedEvent", "EventDetail", "MeshEvent", "new_correlation_id"]


def new_correlation_id() -> str:
    """A fresh correlation id (a UUID4 string)."""
    return str(uuid.uuid4())


class EventDetail(BaseModel):
    """The `detail` of one EventBridge event type, identified by `SOURCE` and `DETAIL_TYPE`.

    Unknown fields are ignored rather than refused: an additive change to an event (a new
    optional field) must not break a reader in another account that runs an older meshkit.
    """

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    SOURCE: ClassVar[str]
    DETAIL_TYPE: ClassVar[str]
    #: True for events AWS services emit (source ``aws.*``); they carry no mesh fields.
    EXTERNAL: ClassVar[bool] = False

    @classmethod
    def type_key(cls) -> str:
        """The catalogue key, ``source/detail-type``."""
        return f"{cls.SOURCE}/{cls.DETAIL_TYPE}"

    def detail_json(self) -> str:
        """The detail as EventBridge carries it (aliases, no unset optionals)."""
        return self.model_dump_json(by_alias=True, exclude_none=True)


class MeshEvent(EventDetail):
    """A meshkit event. Every one carries a correlation id and a schema version.

    Subclasses declare ``SOURCE`` (never ``aws.*``) and ``DETAIL_TYPE`` (at most 128 characters)
    once; a breaking change gets a new detail-type (``X.v2``), an additive change bumps
    ``SCHEMA_VERSION``.
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    correlation_id: CorrelationId = Field(
        default_factory=new_correlation_id,
        description="Follows one flow across accounts; copied from cause to effect.",
        examples=["0b6c3f0e-6e0c-4c8e-9f0a-8a1b2c3d4e5f"],
    )
    schema_version: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="Version of this detail's schema; bumped on additive changes.",
        examples=[1],
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        source = cls.__dict__.get("SOURCE")
        detail_type = cls.__dict__.get("DETAIL_TYPE")
        if source is not None and source.startswith("aws."):
            raise EventContractError(f"{cls.__name__}: mesh sources must not start with 'aws.'")
        if detail_type is not None and not 0 < len(detail_type) <= 128:
            raise EventContractError(f"{cls.__name__}: detail-type must be 1..128 characters")

    @model_validator(mode="after")
    def _fits_in_one_entry(self) -> MeshEvent:
        size = len(self.detail_json().encode())
        if size > MAX_DETAIL_BYTES:
            raise EventTooLargeError(
                f"{type(self).__name__} detail is {size} bytes, over the {MAX_DETAIL_BYTES} byte "
                "budget of one EventBridge entry (256 KB); split it into several events"
            )
        return self

    def follow_up(self) -> dict[str, str]:
        """Keyword arguments that carry this event's correlation id into a follow-up event."""
        return {"correlation_id": self.correlation_id}


class AddressedEvent(MeshEvent):
    """An event central sends to particular domain accounts.

    Each domain's subscription rule on the central bus matches its own account in
    ``recipients``, so central never needs a resource per domain.
    """

    recipients: list[AccountId] = Field(
        min_length=1,
        max_length=100,
        description="Accounts this event is delivered to (matched by their subscription rules).",
        examples=[["222222222222"]],
    )
