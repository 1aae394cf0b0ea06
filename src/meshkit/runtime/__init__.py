"""The event runtime: routing deliveries to handlers, idempotency, publishing, per-account clients.

Names are imported lazily so the Lambda entrypoint pays only for what it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "MeshConfig": "config",
    "HandlerContext": "context",
    "ClientFactory": "context",
    "BotoClientFactory": "context",
    "RejectEvent": "errors",
    "RetryLater": "errors",
    "PublishError": "errors",
    "MeshRuntimeError": "errors",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshkit.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"meshkit.runtime.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
