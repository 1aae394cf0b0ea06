"""Runtime details operators notice: whole-batch failures are errors, idempotency locks end
with the invocation, no idempotency table means no start, and every log record of an event
says which event it belongs to."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meshkit.events import AccessGranted, AccessRequested
from meshkit.runtime.errors import BatchFailedError, ConfigurationError, RejectEvent
from meshkit.runtime.idempotency import DynamoDBIdempotencyStore, InMemoryIdempotencyStore
from meshkit.runtime.router import EventRouter, Runtime
from meshkit.testing import lambda_context, mesh_config, mesh_runtime, sample, sqs_event

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _failing_router(**kwargs: Any) -> EventRouter:
    router = EventRouter("team.flaky", **kwargs)

    @router.on(AccessGranted)
    def flaky(event: AccessGranted, ctx: Any) -> None:
        if event.product == "boom":
            raise RuntimeError("downstream is down")

    @router.on(AccessRequested)
    def refuse(event: AccessRequested, ctx: Any) -> None:
        raise RejectEvent("never from this sender")

    return router


def test_a_batch_where_every_record_failed_fails_the_invocation() -> None:
    router = _failing_router()
    batch = sqs_event(sample(AccessGranted, product="boom"), sample(AccessGranted, product="boom"))
    with mesh_runtime(), pytest.raises(BatchFailedError, match="all 2 records") as info:
        router.resolve(batch, lambda_context())
    assert info.value.failures == 2
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_partly_failed_batch_reports_only_its_failures() -> None:
    router = _failing_router()
    batch = sqs_event(sample(AccessGranted, product="boom"), sample(AccessGranted))
    with mesh_runtime():
        answer = router.resolve(batch, lambda_context())
    assert answer == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}


def test_rejected_records_are_processed_not_failed() -> None:
    router = _failing_router()
    with mesh_runtime() as rt:
        answer = router.resolve(sqs_event(sample(AccessRequested)), lambda_context())
    assert answer == {"batchItemFailures": []}
    assert len(rt.dead_letters) == 1


def test_the_whole_batch_error_can_be_turned_off() -> None:
    router = _failing_router(raise_on_entire_batch_failure=False)
    batch = sqs_event(sample(AccessGranted, product="boom"))
    with mesh_runtime():
        answer = router.resolve(batch, lambda_context())
    assert answer == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}


def test_the_idempotency_lock_ends_with_the_invocation() -> None:
    router = EventRouter("team.slow")
    seen: dict[str, Any] = {}

    @router.on(AccessGranted)
    def slow(event: AccessGranted, ctx: Any) -> None:
        store = rt.runtime.idempotency
        assert isinstance(store, InMemoryIdempotencyStore)
        seen.update(
            {k: r.lock_expires_at for k, r in store._records.items() if r.status == "INPROGRESS"}
        )

    with mesh_runtime(clock=lambda: NOW) as rt:
        router.resolve(sqs_event(sample(AccessGranted)), lambda_context(remaining_ms=42_000))
    assert list(seen.values()) == [NOW + timedelta(seconds=42)]
    # Without a Lambda context (the local mesh, a direct call): the store's lock timeout.
    with mesh_runtime(clock=lambda: NOW) as rt:
        seen.clear()
        router.resolve(sqs_event(sample(AccessGranted)), None)
    assert list(seen.values()) == [NOW + timedelta(minutes=15)]


def test_the_dynamodb_lock_is_written_from_the_deadline() -> None:
    class Table:
        def __init__(self) -> None:
            self.items: list[dict[str, Any]] = []

        def put_item(self, **call: Any) -> dict[str, Any]:
            self.items.append(call["Item"])
            return {}

    table = Table()
    store = DynamoDBIdempotencyStore(table, "idem")
    store.claim("k1", now=NOW, lock_until=NOW + timedelta(seconds=41, milliseconds=500))
    store.claim("k2", now=NOW)
    locks = [int(i["lock_expires_epoch"]["N"]) for i in table.items]
    assert locks == [int(NOW.timestamp()) + 42, int(NOW.timestamp()) + 900]


def test_a_lambda_without_idempotency_table_refuses_to_start() -> None:
    env = mesh_config(idempotency_table=None).to_env()
    assert "MESHKIT_IDEMPOTENCY_TABLE" not in env
    with pytest.raises(ConfigurationError, match="MESHKIT_IDEMPOTENCY_TABLE is not set"):
        Runtime.from_env(env)


def test_a_team_function_with_a_wrong_pydantic_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pydantic

    monkeypatch.setattr(pydantic, "VERSION", "2.5.3")
    with pytest.raises(ImportError, match=r"pydantic 2\.5\.3 is on this function's path"):
        Runtime.from_env(mesh_config().to_env())


def test_every_record_of_an_event_carries_its_ids(caplog: pytest.LogCaptureFixture) -> None:
    router = EventRouter("team.chatty")

    @router.on(AccessGranted)
    def chatty(event: AccessGranted, ctx: Any) -> None:
        ctx.logger.info("handler speaking")
        logging.getLogger("botocore.credentials").info("botocore speaking")
        logging.getLogger("somelib").info("library speaking", extra={"handler": "mine"})
        raise RuntimeError("then failing")

    event = sample(AccessGranted)
    batch = sqs_event(event)
    with caplog.at_level(logging.INFO), mesh_runtime(), pytest.raises(BatchFailedError):
        router.resolve(batch, lambda_context())
    by_message = {r.getMessage().split("] ")[-1]: r for r in caplog.records}
    event_id = __import__("json").loads(batch["Records"][0]["body"])["id"]
    for message in ("handler speaking", "botocore speaking"):
        record = by_message[message]
        assert record.correlation_id == event.correlation_id  # type: ignore[attr-defined]
        assert record.event_id == event_id  # type: ignore[attr-defined]
        assert record.handler == "team.chatty.chatty"  # type: ignore[attr-defined]
    assert by_message["library speaking"].handler == "mine"  # type: ignore[attr-defined]
    failed = next(r for r in caplog.records if r.name == "meshkit.runtime.router")
    assert failed.correlation_id == event.correlation_id  # type: ignore[attr-defined]
    # Outside the event nothing is added.
    logging.getLogger("after").warning("later")
    assert not hasattr(caplog.records[-1], "correlation_id")
