"""Errors raised by the event contract."""

from __future__ import annotations

__all__ = ["EventContractError", "EventTooLargeError", "UnknownEventTypeError"]


class EventContractError(ValueError):
    """Base class: an event does not fit the mesh's contract."""


class UnknownEventTypeError(EventContractError):
    """No model is registered for a (source, detail-type) pair."""

    def __init__(self, source: str, detail_type: str) -> None:
        self.source = source
        self.detail_type = detail_type
        super().__init__(
            f"unknown event type: source={source!r} detail-type={detail_type!r}; "
            "run `meshkit events list` for the catalogue, or register a custom model "
            "with meshkit.events.register()"
        )


class EventTooLargeError(EventContractError):
    """The serialised detail would not fit in one EventBridge entry (256 KB)."""
