"""The event runtime: routing deliveries to handlers, idempotency, publishing, per-account clients.

Names are imported lazily so the Lambda entrypoint pays only for what it uses.
"""

from __future__ import annotations

from meshkit._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "MeshConfig": "config",
    "HandlerContext": "context",
    "ClientFactory": "context",
    "BotoClientFactory": "context",
    "RejectEvent": "errors",
    "RetryLater": "errors",
    "PublishError": "errors",
    "MeshRuntimeError": "errors",
    "BatchFailedError": "errors",
    "ConfigurationError": "errors",
    "EventRouter": "router",
    "Runtime": "router",
    "Outcome": "router",
    "DeadLetterUnavailableError": "router",
    "Publisher": "publisher",
    "IdempotencyStore": "idempotency",
    "InMemoryIdempotencyStore": "idempotency",
    "DynamoDBIdempotencyStore": "idempotency",
    "AlreadyInProgressError": "idempotency",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
