"""Idempotency stores: claim, duplicate, in progress, takeover, release, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from meshkit.runtime.idempotency import (
    AlreadyInProgressError,
    DynamoDBIdempotencyStore,
    InMemoryIdempotencyStore,
)
from meshkit.runtime.tables import TTL_ATTRIBUTE

if TYPE_CHECKING:
    from unit_support import MotoMesh

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest, moto_mesh: MotoMesh) -> Any:
    if request.param == "memory":
        return InMemoryIdempotencyStore(ttl=timedelta(hours=1))
    return DynamoDBIdempotencyStore(moto_mesh.clients, "idempotency", ttl=timedelta(hours=1))


def test_claim_complete_then_duplicate(store: Any) -> None:
    assert store.claim("g:h:1", now=T0) == "acquired"
    store.complete("g:h:1", now=T0)
    assert store.claim("g:h:1", now=T0 + timedelta(minutes=5)) == "duplicate"
    assert store.status("g:h:1") == "COMPLETE"
    # another handler or event id is independent
    assert store.claim("g:other:1", now=T0) == "acquired"


def test_in_progress_blocks_until_lock_timeout(store: Any) -> None:
    assert store.claim("k", now=T0) == "acquired"
    with pytest.raises(AlreadyInProgressError, match="another invocation"):
        store.claim("k", now=T0 + timedelta(minutes=14))
    # a Lambda cannot run longer than 15 minutes: the lock is stale, take it over
    assert store.claim("k", now=T0 + timedelta(minutes=16)) == "acquired"


def test_release_lets_a_retry_run(store: Any) -> None:
    assert store.claim("k", now=T0) == "acquired"
    store.release("k")
    assert store.status("k") is None
    assert store.claim("k", now=T0) == "acquired"


def test_release_never_removes_a_completed_record(store: Any) -> None:
    store.claim("k", now=T0)
    store.complete("k", now=T0)
    store.release("k")
    assert store.claim("k", now=T0) == "duplicate"


def test_completed_record_expires(store: Any) -> None:
    store.claim("k", now=T0)
    store.complete("k", now=T0)
    assert store.claim("k", now=T0 + timedelta(hours=2)) == "acquired"


def test_dynamodb_item_shape(moto_mesh: MotoMesh) -> None:
    store = DynamoDBIdempotencyStore(moto_mesh.clients.client("dynamodb"), "idempotency")
    store.claim("g:h:e", now=T0)
    store.complete("g:h:e", now=T0)
    item = moto_mesh.clients.client("dynamodb").get_item(
        TableName="idempotency", Key={"id": {"S": "g:h:e"}}
    )["Item"]
    assert item["status"] == {"S": "COMPLETE"}
    assert int(item[TTL_ATTRIBUTE]["N"]) == int((T0 + timedelta(days=1)).timestamp())
