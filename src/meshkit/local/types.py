"""Small result types of the local mesh, importable without starting (or importing) the mesh."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["DeadLetter", "FlowStats", "QueryResult", "TimelineEntry"]


@dataclass(frozen=True)
class QueryResult:
    """Rows a local query returned, with their column names."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class TimelineEntry:
    """One handler call (or rejection) as the mesh saw it, in mesh-clock time."""

    at: datetime
    account: str
    #: The domain whose handler ran, or ``"central"``.
    domain: str
    group: str
    handler: str
    detail_type: str
    status: str
    ms: float
    correlation_id: str | None = None
    error: str | None = None
    #: The envelope's ``account``: who sent the event.
    sender: str | None = None
    #: The envelope's ``id`` (None when the envelope could not be read).
    event_id: str | None = None

    @property
    def account_label(self) -> str:
        """``domain (account)``: who ran the handler, for timelines."""
        return f"{self.domain} ({self.account})"


@dataclass(frozen=True)
class DeadLetter:
    """A message sitting in a group's dead-letter queue."""

    account: str
    queue: str
    #: The message body parsed as JSON (the original EventBridge envelope), or
    #: ``{"raw": text}`` when it is not JSON.
    body: dict[str, Any]
    #: Message attributes, flattened to strings (the router puts the reason there).
    attributes: dict[str, str]
    receive_count: int = 0


@dataclass
class FlowStats:
    """What one flow window cost: events handled, API calls (by operation), polls, time."""

    name: str
    ok: bool = True
    #: Handler deliveries that ended ``ok`` or ``duplicate`` or were rejected inside the window.
    events: int = 0
    api_calls: int = 0
    calls_by_operation: Counter[str] = field(default_factory=Counter)
    #: Calls that poll a crawler's state (the predecessor's loop); meshkit's flows make none.
    polls: int = 0
    seconds: float = 0.0
    #: Calls that failed with an injected fault (retried by botocore or not).
    injected_faults: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "events": self.events,
            "api_calls": self.api_calls,
            "polls": self.polls,
            "seconds": round(self.seconds, 4),
            "calls_by_operation": dict(sorted(self.calls_by_operation.items())),
        }
