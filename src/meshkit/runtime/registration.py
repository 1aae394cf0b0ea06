"""Confirmed domain registration: ask central until the domain's state records the answer.

One PutEvents is not a registration: an entry can fail inside a 200 response
(``FailedEntryCount``), and a rule EventBridge has just created may not match at once. So the
domain sends ``DomainRegistrationRequested`` straight to the central bus, checks the entry, and
waits for central's ``DomainRegistered`` to be recorded in its own state table (the producer
handler records the answer's ``correlation_id``); until then it sends again, with exponential
backoff, up to a deadline. Central treats a repeated request idempotently.

Deregistration on stack deletion is the opposite end: sent straight to the central bus by a
custom resource that every other resource of the domain's stack depends on, so it runs last,
only once everything else is gone; a stack whose deletion fails never tells central the domain
left.

``on_event`` is the custom resource of both, deployed by ``DataDomain`` behind CDK's Provider
framework (standard library and boto3 only, no layer; docs/deploy.md, "Registration"). The
local mesh runs ``register`` itself (``DomainHandle.register``), with delivery rounds as the
waiting.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "EntryFailedError",
    "NotAcknowledgedError",
    "acknowledged",
    "deregister",
    "handle",
    "on_event",
    "register",
    "send",
    "with_correlation",
]

#: First wait after a send, doubled per attempt up to ``MAX_DELAY`` (seconds).
FIRST_DELAY = 2.0
MAX_DELAY = 30.0
#: Attempts of a deregistration whose entry keeps failing.
DEREGISTER_ATTEMPTS = 5


class EntryFailedError(RuntimeError):
    """PutEvents answered 200 but refused the entry (``FailedEntryCount``)."""


class NotAcknowledgedError(RuntimeError):
    """Central did not answer the registration before the deadline."""


def send(events: Any, entry: Mapping[str, Any]) -> str:
    """PutEvents one entry; its event id, or ``EntryFailedError`` with EventBridge's code."""
    answer = events.put_events(Entries=[dict(entry)])
    result = (answer.get("Entries") or [{}])[0]
    if answer.get("FailedEntryCount") or "EventId" not in result:
        raise EntryFailedError(
            f"PutEvents refused the entry: {result.get('ErrorCode')}: {result.get('ErrorMessage')}"
        )
    return str(result["EventId"])


def with_correlation(entry: Mapping[str, Any], correlation_id: str) -> dict[str, Any]:
    """``entry`` whose detail carries ``correlation_id`` (the one the answer echoes)."""
    detail = json.loads(str(entry["Detail"]))
    detail["correlation_id"] = correlation_id
    return {**entry, "Detail": json.dumps(detail, sort_keys=True)}


def acknowledged(dynamodb: Any, *, table: str, domain: str, correlation_id: str) -> bool:
    """Whether the domain's state records central's ``DomainRegistered`` for this request."""
    item = dynamodb.get_item(
        TableName=table,
        Key={"pk": {"S": "DOMAIN"}, "sk": {"S": domain}},
        ConsistentRead=True,
        ProjectionExpression="registration_correlation_id",
    ).get("Item", {})
    return bool(item.get("registration_correlation_id", {}).get("S") == correlation_id)


def register(
    events: Any,
    dynamodb: Any,
    *,
    entry: Mapping[str, Any],
    table: str,
    domain: str,
    correlation_id: str,
    timeout: float,
    wait: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    max_attempts: int | None = None,
) -> int:
    """Send the registration until it is acknowledged; returns the number of sends.

    Raises ``NotAcknowledgedError`` at the deadline (or after ``max_attempts`` sends), naming
    the last failure, so a deployment fails instead of leaving a domain central never knew.
    """
    entry = with_correlation(entry, correlation_id)
    deadline = clock() + timeout
    delay = FIRST_DELAY
    attempts = 0
    last = "no answer from central"
    while clock() < deadline and (max_attempts is None or attempts < max_attempts):
        attempts += 1
        try:
            send(events, entry)
        except EntryFailedError as exc:
            last = str(exc)
        wait(delay)
        if acknowledged(dynamodb, table=table, domain=domain, correlation_id=correlation_id):
            return attempts
        delay = min(delay * 2, MAX_DELAY)
    raise NotAcknowledgedError(
        f"domain {domain!r}: central did not acknowledge the registration after {attempts} "
        f"sends ({last}); check that central is deployed and this account is a member, then "
        "retry the deployment"
    )


def deregister(
    events: Any,
    entry: Mapping[str, Any],
    *,
    wait: Callable[[float], None] = time.sleep,
    attempts: int = DEREGISTER_ATTEMPTS,
) -> str:
    """Send the deregistration, again while its entry fails; its event id."""
    delay = FIRST_DELAY
    for attempt in range(attempts):
        try:
            return send(events, entry)
        except EntryFailedError:
            if attempt == attempts - 1:
                raise
            wait(delay)
            delay = min(delay * 2, MAX_DELAY)
    raise AssertionError("unreachable")  # pragma: no cover


def _entry(props: Mapping[str, Any]) -> dict[str, Any]:
    entry = props["Entry"]
    return dict(json.loads(entry) if isinstance(entry, str) else entry)


def handle(
    event: Mapping[str, Any],
    *,
    events: Any,
    dynamodb: Any,
    remaining_seconds: float,
    wait: Callable[[float], None] = time.sleep,
) -> None:
    """One custom resource request: ``Kind`` is ``registration`` or ``deregistration``."""
    props = event.get("ResourceProperties") or {}
    kind, request = props.get("Kind"), event["RequestType"]
    if kind == "registration" and request in ("Create", "Update"):
        register(
            events,
            dynamodb,
            entry=_entry(props),
            table=str(props["StateTable"]),
            domain=str(props["Domain"]),
            # One per CloudFormation request: an update waits for an answer to itself.
            correlation_id=str(uuid.uuid5(uuid.NAMESPACE_URL, str(event["RequestId"]))),
            timeout=max(0.0, remaining_seconds - 60.0),
            wait=wait,
        )
    elif kind == "deregistration" and request == "Delete":
        deregister(events, _entry(props), wait=wait)
    elif kind not in ("registration", "deregistration"):
        raise ValueError(f"Kind={kind!r}: expected 'registration' or 'deregistration'")


def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The custom resource's Lambda entrypoint, for CDK's Provider framework.

    The framework answers CloudFormation: an exception here (or this function timing out) is
    reported as FAILED with its message, a return as SUCCESS. The physical id never changes, so
    an update never makes CloudFormation delete (and deregister) the previous resource.
    """
    import boto3

    remaining = context.get_remaining_time_in_millis() / 1000.0 if context is not None else 840.0
    handle(
        event,
        events=boto3.client("events"),
        dynamodb=boto3.client("dynamodb"),
        remaining_seconds=remaining,
    )
    return {
        "PhysicalResourceId": str(
            event.get("PhysicalResourceId") or f"meshkit-{event['LogicalResourceId']}"
        )
    }
