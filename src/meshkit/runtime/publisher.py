"""Publishing events: PutEvents in batches of at most 10 entries and 256 KB, failed entries retried.

PutEvents is not all-or-nothing: it answers 200 with ``FailedEntryCount`` and an ``ErrorCode``
on each entry it refused. Only those entries are sent again, with exponential backoff and full
jitter; what still fails after ``max_attempts`` raises PublishError naming them.
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

from meshkit.events.envelope import MAX_ENTRY_BYTES, entry_size, to_put_events_entry
from meshkit.runtime.errors import PublishError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import ClientFactory

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_ENTRIES", "Publisher", "batches"]

MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = MAX_ENTRY_BYTES

#: Whole-request errors worth another try after botocore's own retries gave up.
_RETRYABLE_CALL_ERRORS = frozenset(
    {"ThrottlingException", "InternalException", "InternalFailure", "ServiceUnavailable"}
)

log = logging.getLogger("meshkit.runtime.publisher")


def batches(entries: Sequence[dict[str, Any]]) -> list[list[int]]:
    """Split entries (by index) into PutEvents requests of <= 10 entries and <= 256 KB."""
    result: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index, entry in enumerate(entries):
        entry_bytes = entry_size(entry)
        if current and (len(current) == MAX_BATCH_ENTRIES or size + entry_bytes > MAX_BATCH_BYTES):
            result.append(current)
            current, size = [], 0
        current.append(index)
        size += entry_bytes
    if current:
        result.append(current)
    return result


class Publisher:
    """Puts events on one bus (``bus``: a name or ARN) through ``clients.client("events")``."""

    def __init__(
        self,
        clients: ClientFactory,
        bus: str,
        *,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.clients = clients
        self.bus = bus
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.rng = rng

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based): full jitter on an exponential cap."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return cap * self.rng()

    def publish(self, events: Sequence[EventDetail]) -> list[str]:
        """Put ``events`` on the bus; their EventBridge ids, in order. PublishError on failure."""
        if not events:
            return []
        entries = [to_put_events_entry(event, bus=self.bus) for event in events]
        ids: list[str | None] = [None] * len(entries)
        pending = list(range(len(entries)))
        errors: dict[int, dict[str, object]] = {}
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                self.sleep(self.backoff(attempt - 1))
            failed: list[int] = []
            for batch in batches([entries[i] for i in pending]):
                indexes = [pending[i] for i in batch]
                failed.extend(self._put(entries, indexes, ids, errors))
            pending = failed
            if not pending:
                return [i for i in ids if i is not None]
            log.warning(
                "PutEvents refused %d of %d entries (attempt %d of %d)",
                len(pending),
                len(entries),
                attempt,
                self.max_attempts,
            )
        failures = [
            {"index": i, "detail_type": entries[i]["DetailType"], **errors.get(i, {})}
            for i in pending
        ]
        raise PublishError(
            f"{len(pending)} of {len(entries)} events could not be put on {self.bus} after "
            f"{self.max_attempts} attempts: {failures}; the handler's delivery will be retried",
            failures,
        )

    def _put(
        self,
        entries: list[dict[str, Any]],
        indexes: list[int],
        ids: list[str | None],
        errors: dict[int, dict[str, object]],
    ) -> list[int]:
        """One PutEvents request; the indexes that must be retried."""
        from botocore.exceptions import ClientError

        client = self.clients.client("events")
        try:
            response = client.put_events(Entries=[entries[i] for i in indexes])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in _RETRYABLE_CALL_ERRORS:
                raise PublishError(
                    f"PutEvents on {self.bus} failed with {code}: {exc}; check the bus name "
                    "and the function's events:PutEvents permission",
                    [{"index": i, "error_code": code} for i in indexes],
                ) from exc
            for i in indexes:
                errors[i] = {"error_code": code, "error_message": str(exc)}
            return list(indexes)
        retry: list[int] = []
        for i, result in zip(indexes, response.get("Entries", []), strict=False):
            if result.get("ErrorCode"):
                errors[i] = {
                    "error_code": result["ErrorCode"],
                    "error_message": result.get("ErrorMessage", ""),
                }
                retry.append(i)
            else:
                ids[i] = result.get("EventId")
        # Fewer results than entries would be a broken response: retry what is unaccounted for.
        answered = len(response.get("Entries", []))
        retry.extend(indexes[answered:])
        return retry
