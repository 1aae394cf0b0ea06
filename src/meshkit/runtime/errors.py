"""What a handler raises to say how an event must be treated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meshkit.events.base import EventDetail

__all__ = [
    "BatchFailedError",
    "ConfigurationError",
    "MeshRuntimeError",
    "PublishError",
    "RejectEvent",
    "RetryLater",
]


class MeshRuntimeError(RuntimeError):
    """Base class of runtime errors."""


class RejectEvent(MeshRuntimeError):
    """Do not act on this event, ever: it goes to the dead-letter queue with ``reason`` and an
    ``EventRejected`` is emitted. Raise it before changing anything.

    ``kind`` is ``authorisation`` (the sender may not do this), ``validation`` (the content is
    wrong) or ``state`` (it does not fit the current state, e.g. a second decision).

    ``follow_ups`` are facts the handler still reports about the rejected event (a poison
    object's ``ErasureFailed``, the completion it brings about): published after the event is
    dead-lettered, so "rejected" never means "silently dropped from the flow".
    """

    def __init__(
        self,
        reason: str,
        *,
        kind: Literal["authorisation", "validation", "state"] = "authorisation",
        follow_ups: Sequence[EventDetail] = (),
    ) -> None:
        self.reason = reason
        self.kind = kind
        self.follow_ups = list(follow_ups)
        super().__init__(reason)


class RetryLater(MeshRuntimeError):
    """A transient condition (a dependency not there yet): let the queue deliver it again."""


class PublishError(MeshRuntimeError):
    """Follow-up events could not be put on the bus after retries."""

    def __init__(self, message: str, failed: list[dict[str, object]]) -> None:
        self.failed = failed
        super().__init__(message)


class BatchFailedError(MeshRuntimeError):
    """Every record of an SQS batch failed: the invocation fails, so Lambda's ``Errors``
    metric (and the handler's alarm on it) sees it; SQS redelivers the batch all the same."""

    def __init__(self, message: str, failures: int) -> None:
        self.failures = failures
        super().__init__(message)


class ConfigurationError(MeshRuntimeError):
    """The function is deployed without something it cannot safely run without."""
