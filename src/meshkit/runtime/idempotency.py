"""Idempotency: one conditional write per (handler, event id); a redelivery is not run twice.

A record goes INPROGRESS (conditional put) -> COMPLETE, or is deleted when the handler fails so
the retry can run. An INPROGRESS record older than the lock timeout (a crashed or timed-out
Lambda) may be taken over, as Powertools does.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from meshkit.runtime.errors import RetryLater
from meshkit.runtime.tables import TTL_ATTRIBUTE

if TYPE_CHECKING:
    from meshkit.runtime.context import ClientFactory

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_TTL",
    "AlreadyInProgressError",
    "Claim",
    "DynamoDBIdempotencyStore",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
]

#: Lambda's maximum run time: without the invocation's own deadline (``lock_until``, which the
#: router takes from ``context.get_remaining_time_in_millis()``), an INPROGRESS record older than
#: this belongs to a dead invocation.
DEFAULT_LOCK_TIMEOUT = timedelta(minutes=15)
#: How long a COMPLETE record suppresses redeliveries (EventBridge and SQS retry within a day).
DEFAULT_TTL = timedelta(days=1)

INPROGRESS = "INPROGRESS"
COMPLETE = "COMPLETE"

#: ``acquired``: run the handler; ``duplicate``: it already ran to completion, skip it.
Claim = Literal["acquired", "duplicate"]


class AlreadyInProgressError(RetryLater):
    """Another invocation holds the record: let the queue deliver this event again later."""


class IdempotencyStore(Protocol):
    """Where (handler, event id) claims are recorded."""

    def claim(self, key: str, *, now: datetime, lock_until: datetime | None = None) -> Claim:
        """Take the key; ``duplicate`` when it is COMPLETE; AlreadyInProgressError when held.

        The claim may be taken over after ``lock_until`` (the invocation's deadline, from
        Lambda's remaining time), or after the store's lock timeout when it is not known.
        """
        ...

    def complete(self, key: str, *, now: datetime) -> None:
        """Mark the key done: later claims answer ``duplicate`` until it expires."""
        ...

    def release(self, key: str) -> None:
        """Drop an INPROGRESS claim after a failure so a retry can take it."""
        ...


@dataclass
class _Record:
    status: str
    expires_at: datetime
    lock_expires_at: datetime


class InMemoryIdempotencyStore:
    """A process-local store with the same semantics as the DynamoDB one (for unit tests)."""

    def __init__(
        self, *, ttl: timedelta = DEFAULT_TTL, lock_timeout: timedelta = DEFAULT_LOCK_TIMEOUT
    ) -> None:
        self.ttl = ttl
        self.lock_timeout = lock_timeout
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, *, now: datetime, lock_until: datetime | None = None) -> Claim:
        with self._lock:
            record = self._records.get(key)
            if record is not None and record.expires_at > now:
                if record.status == COMPLETE:
                    return "duplicate"
                if record.lock_expires_at > now:
                    raise AlreadyInProgressError(f"{key} is being processed by another invocation")
            self._records[key] = _Record(
                INPROGRESS, now + self.ttl, lock_until or now + self.lock_timeout
            )
            return "acquired"

    def complete(self, key: str, *, now: datetime) -> None:
        with self._lock:
            self._records[key] = _Record(COMPLETE, now + self.ttl, now)

    def release(self, key: str) -> None:
        with self._lock:
            record = self._records.get(key)
            if record is not None and record.status == INPROGRESS:
                del self._records[key]

    def status(self, key: str) -> str | None:
        """The stored status of ``key`` (for tests and the local mesh's inspection)."""
        record = self._records.get(key)
        return None if record is None else record.status


class DynamoDBIdempotencyStore:
    """Claims as items of a table shaped like ``meshkit.runtime.tables.IDEMPOTENCY_TABLE``.

    ``claim`` is a single conditional PutItem (no read-then-write race); the item carries
    ``expires_at_epoch`` for DynamoDB's TTL, and ``lock_expires_epoch`` for takeover.
    """

    def __init__(
        self,
        clients: ClientFactory | Any,
        table: str,
        *,
        ttl: timedelta = DEFAULT_TTL,
        lock_timeout: timedelta = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self._source = clients
        self._client: Any = None
        self.table = table
        self.ttl = ttl
        self.lock_timeout = lock_timeout

    @property
    def client(self) -> Any:
        # A ClientFactory or a ready DynamoDB client; resolved on first use so that building a
        # runtime at import time creates no client.
        if self._client is None:
            source = self._source
            self._client = source if hasattr(source, "put_item") else source.client("dynamodb")
        return self._client

    def claim(self, key: str, *, now: datetime, lock_until: datetime | None = None) -> Claim:
        from botocore.exceptions import ClientError

        epoch = int(now.timestamp())
        lock_epoch = (
            math.ceil(lock_until.timestamp())
            if lock_until is not None
            else epoch + int(self.lock_timeout.total_seconds())
        )
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": key},
                    "status": {"S": INPROGRESS},
                    TTL_ATTRIBUTE: {"N": str(epoch + int(self.ttl.total_seconds()))},
                    "lock_expires_epoch": {"N": str(lock_epoch)},
                },
                # Free, expired (TTL deletion lags by up to days), or a stale INPROGRESS lock.
                ConditionExpression=(
                    "attribute_not_exists(id) OR #ttl < :now "
                    "OR (#status = :inprogress AND lock_expires_epoch < :now)"
                ),
                ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE, "#status": "status"},
                ExpressionAttributeValues={
                    ":now": {"N": str(epoch)},
                    ":inprogress": {"S": INPROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            item = exc.response.get("Item") or self._get(key)
            if item is not None and item.get("status", {}).get("S") == COMPLETE:
                return "duplicate"
            raise AlreadyInProgressError(f"{key} is being processed by another invocation") from exc
        return "acquired"

    def _get(self, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return item

    def complete(self, key: str, *, now: datetime) -> None:
        epoch = int(now.timestamp())
        self.client.put_item(
            TableName=self.table,
            Item={
                "id": {"S": key},
                "status": {"S": COMPLETE},
                TTL_ATTRIBUTE: {"N": str(epoch + int(self.ttl.total_seconds()))},
                "completed_epoch": {"N": str(epoch)},
            },
        )

    def release(self, key: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_item(
                TableName=self.table,
                Key={"id": {"S": key}},
                ConditionExpression="#status = :inprogress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":inprogress": {"S": INPROGRESS}},
            )
        except ClientError as exc:
            # Already gone or completed by someone else: nothing of ours to release.
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def status(self, key: str) -> str | None:
        """The stored status of ``key`` (for tests and inspection)."""
        item = self._get(key)
        return None if item is None else str(item["status"]["S"])
