"""EventRouter: dispatch, rejection to the DLQ, partial batch failure, FlowFailed, idempotency."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from unit_support import sqs_batch, sqs_record

from meshkit.events.access import AccessDecided, AccessDenied, AccessRequested, AccessRevoked
from meshkit.events.domains import DomainRegistrationRequested
from meshkit.events.envelope import delivered_envelope
from meshkit.runtime.errors import RejectEvent
from meshkit.runtime.idempotency import DynamoDBIdempotencyStore, InMemoryIdempotencyStore
from meshkit.runtime.router import DeadLetterUnavailableError, EventRouter

if TYPE_CHECKING:
    from unit_support import MotoMesh

    from meshkit.runtime.context import HandlerContext

CONSUMER = "333333333333"
CID = "corr-1234-5678-abcd"


def request(**overrides: Any) -> AccessRequested:
    values: dict[str, Any] = {
        "request_id": "req-000000001",
        "producer_domain": "sales",
        "product": "orders",
        "principals": [f"arn:aws:iam::{CONSUMER}:role/analyst"],
        "consumer_domain": "marketing",
        "purpose": "campaign attribution",
        "correlation_id": CID,
    }
    values.update(overrides)
    return AccessRequested(**values)


def decision() -> AccessDecided:
    return AccessDecided(
        request_id="req-000000001", approved=True, decided_by="owner", correlation_id=CID
    )


def make_router(calls: list[tuple[str, Any, HandlerContext]]) -> EventRouter:
    # These tests read batchItemFailures of one-record batches; the error an entirely failed
    # batch raises is tested in test_runtime_operations.py.
    router = EventRouter("test.group", raise_on_entire_batch_failure=False)

    @router.on(AccessRequested, AccessDecided)
    def on_access(event: AccessRequested | AccessDecided, ctx: HandlerContext) -> Any:
        calls.append(("on_access", event, ctx))
        if isinstance(event, AccessRequested) and event.purpose == "reject me":
            raise RejectEvent("consumer may not ask for this", kind="authorisation")
        if isinstance(event, AccessRequested) and event.purpose == "explode":
            raise RuntimeError("dependency down")
        return AccessDenied(
            recipients=[CONSUMER],
            request_id=event.request_id,
            consumer_domain="marketing",
            producer_domain="sales",
            product="orders",
            reason="test",
            decided_by="policy",
            **event.follow_up(),
        )

    @router.on(AccessRevoked)
    def on_revoke(event: AccessRevoked, ctx: HandlerContext) -> None:
        calls.append(("on_revoke", event, ctx))

    return router


@pytest.fixture
def calls() -> list[tuple[str, Any, HandlerContext]]:
    return []


def test_dispatches_several_models_to_one_handler_and_publishes_follow_ups(
    moto_mesh: MotoMesh, calls: list[Any]
) -> None:
    # GIVEN a router with one handler for two models
    router = make_router(calls)
    rt = moto_mesh.runtime()
    batch = sqs_batch(
        sqs_record(delivered_envelope(request(), account=CONSUMER), message_id="a"),
        sqs_record(delivered_envelope(decision(), account=CONSUMER), message_id="b"),
    )
    # WHEN the batch is resolved
    result = router.resolve(batch, None, runtime=rt)
    # THEN both went to on_access with a typed event and a context, nothing failed
    assert result == {"batchItemFailures": []}
    assert [(name, type(event)) for name, event, _ in calls] == [
        ("on_access", AccessRequested),
        ("on_access", AccessDecided),
    ]
    ctx = calls[0][2]
    assert ctx.sender_account == CONSUMER
    assert ctx.handler_name == "on_access"
    assert ctx.now() == moto_mesh.now
    # and the follow-ups reached the bus with the cause's correlation id
    published = moto_mesh.published()
    assert [e["detail-type"] for e in published] == ["AccessDenied", "AccessDenied"]
    assert {e["detail"]["correlation_id"] for e in published} == {CID}
    assert [o.status for o in moto_mesh.outcomes] == ["ok", "ok"]
    assert moto_mesh.outcomes[0].follow_ups[0].DETAIL_TYPE == "AccessDenied"
    assert moto_mesh.outcomes[0].correlation_id == CID


def test_correlation_id_is_kept_end_to_end(moto_mesh: MotoMesh, calls: list[Any]) -> None:
    # GIVEN the follow-up of a first handler, delivered as EventBridge delivers it
    router = make_router(calls)
    rt = moto_mesh.runtime()
    router.resolve(delivered_envelope(request(), account=CONSUMER), None, runtime=rt)
    (denied,) = moto_mesh.published()
    # WHEN a second router handles that follow-up
    second = EventRouter("second.group")
    seen: list[str] = []

    @second.on(AccessDenied)
    def on_denied(event: AccessDenied, ctx: HandlerContext) -> AccessRevoked:
        seen.append(event.correlation_id)
        return AccessRevoked(
            request_id=event.request_id, reason="r", revoked_by="x", **event.follow_up()
        )

    denied["account"] = CONSUMER  # moto omits the sender account on SQS delivery
    second.resolve(sqs_batch(sqs_record(denied)), None, runtime=rt)
    # THEN the id of the first event is on every event of the flow
    assert seen == [CID]
    assert [e["detail"]["correlation_id"] for e in moto_mesh.published()] == [CID]


def test_direct_eventbridge_invocation_returns_none(moto_mesh: MotoMesh, calls: list[Any]) -> None:
    router = make_router(calls)
    assert (
        router.resolve(
            delivered_envelope(decision(), account=CONSUMER), runtime=moto_mesh.runtime()
        )
        is None
    )
    assert len(calls) == 1


def _assert_rejected(moto_mesh: MotoMesh, *, kind: str, handler: str, body: str) -> dict[str, Any]:
    (letter,) = moto_mesh.dead_letters()
    assert letter["body"] == body
    assert letter["attributes"]["kind"] == kind
    assert letter["attributes"]["handler"] == handler
    assert letter["attributes"]["reason"]
    published = moto_mesh.published()
    assert [e["detail-type"] for e in published] == ["EventRejected"]
    rejected: dict[str, Any] = published[0]["detail"]
    assert rejected["kind"] == kind
    assert rejected["reason"] == letter["attributes"]["reason"]
    return rejected


def test_unknown_event_type_goes_to_dlq_with_event_rejected(
    moto_mesh: MotoMesh, calls: list[Any]
) -> None:
    router = make_router(calls)
    envelope = delivered_envelope(decision(), account=CONSUMER)
    envelope["detail-type"] = "AccessTeleported"
    record = sqs_record(envelope)
    result = router.resolve(sqs_batch(record), None, runtime=moto_mesh.runtime())
    # processed (not retried), nothing called, parked with its reason, announced
    assert result == {"batchItemFailures": []}
    assert calls == []
    rejected = _assert_rejected(
        moto_mesh, kind="unknown_type", handler="test.group", body=record["body"]
    )
    assert "AccessTeleported" in rejected["reason"]
    assert rejected["correlation_id"] == CID
    assert rejected["sender_account"] == CONSUMER
    assert [o.status for o in moto_mesh.outcomes] == ["rejected"]


def test_invalid_detail_goes_to_dlq_and_is_not_failed(
    moto_mesh: MotoMesh, calls: list[Any]
) -> None:
    router = make_router(calls)
    envelope = delivered_envelope(request(), account=CONSUMER)
    envelope["detail"]["principals"] = ["arn:aws:iam::333333333333:user/bob"]
    record = sqs_record(envelope)
    result = router.resolve(sqs_batch(record), None, runtime=moto_mesh.runtime())
    assert result == {"batchItemFailures": []}
    assert calls == []
    rejected = _assert_rejected(
        moto_mesh, kind="validation", handler="test.group", body=record["body"]
    )
    assert "principals" in rejected["reason"]
    assert rejected["correlation_id"] == CID
    assert rejected["event_detail_type"] == "AccessRequested"


@pytest.mark.parametrize(
    "body",
    ["not json at all", json.dumps({"hello": "world"}), json.dumps([1, 2])],
    ids=["not-json", "not-an-envelope", "not-an-object"],
)
def test_invalid_envelope_goes_to_dlq(moto_mesh: MotoMesh, calls: list[Any], body: str) -> None:
    router = make_router(calls)
    result = router.resolve(sqs_batch(sqs_record(body)), None, runtime=moto_mesh.runtime())
    assert result == {"batchItemFailures": []}
    rejected = _assert_rejected(moto_mesh, kind="validation", handler="test.group", body=body)
    assert rejected["event_id"] == "unknown"
    assert moto_mesh.outcomes[0].envelope is None
    assert moto_mesh.outcomes[0].raw == body


def test_event_without_handler_in_group_is_rejected(moto_mesh: MotoMesh, calls: list[Any]) -> None:
    router = make_router(calls)
    event = DomainRegistrationRequested(
        domain="sales", account_id="222222222222", storage_uri="s3://sales-data/products/"
    )
    record = sqs_record(delivered_envelope(event, account="222222222222"))
    result = router.resolve(sqs_batch(record), None, runtime=moto_mesh.runtime())
    assert result == {"batchItemFailures": []}
    rejected = _assert_rejected(
        moto_mesh, kind="unknown_type", handler="test.group", body=record["body"]
    )
    assert "no handler" in rejected["reason"]


def test_reject_event_from_handler(moto_mesh: MotoMesh, calls: list[Any]) -> None:
    router = make_router(calls)
    rt = moto_mesh.runtime()
    record = sqs_record(delivered_envelope(request(purpose="reject me"), account=CONSUMER))
    assert router.resolve(sqs_batch(record), None, runtime=rt) == {"batchItemFailures": []}
    rejected = _assert_rejected(
        moto_mesh, kind="authorisation", handler="on_access", body=record["body"]
    )
    assert rejected["handler"] == "test.group.on_access"
    assert rejected["reason"] == "consumer may not ask for this"
    assert rejected["correlation_id"] == CID
    (outcome,) = moto_mesh.outcomes
    assert (outcome.status, outcome.kind, outcome.handler) == (
        "rejected",
        "authorisation",
        "on_access",
    )
    # a redelivery of the rejected event is a duplicate, not a second dead letter
    assert router.resolve(sqs_batch(record), None, runtime=rt) == {"batchItemFailures": []}
    assert moto_mesh.dead_letters() == []
    assert moto_mesh.outcomes[-1].status == "duplicate"


def test_rejection_without_dlq_is_a_failure_never_a_drop(
    moto_mesh: MotoMesh, calls: list[Any]
) -> None:
    router = make_router(calls)
    rt = moto_mesh.runtime(dead_letter_queue_url=None)
    envelope = delivered_envelope(decision(), account=CONSUMER)
    envelope["detail-type"] = "AccessTeleported"
    result = router.resolve(sqs_batch(sqs_record(envelope, message_id="x")), None, runtime=rt)
    assert result == {"batchItemFailures": [{"itemIdentifier": "x"}]}
    with pytest.raises(DeadLetterUnavailableError, match="MESHKIT_DLQ_URL"):
        router.resolve(envelope, None, runtime=rt)
    assert moto_mesh.published() == []


def test_partial_batch_failure_reports_only_failed_records(
    moto_mesh: MotoMesh, calls: list[Any]
) -> None:
    router = make_router(calls)
    batch = sqs_batch(
        sqs_record(delivered_envelope(request(), account=CONSUMER), message_id="ok-1"),
        sqs_record(
            delivered_envelope(request(purpose="explode"), account=CONSUMER), message_id="bad"
        ),
        sqs_record(delivered_envelope(decision(), account=CONSUMER), message_id="ok-2"),
    )
    result = router.resolve(batch, None, runtime=moto_mesh.runtime())
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert [o.status for o in moto_mesh.outcomes] == ["ok", "failed", "ok"]
    assert moto_mesh.outcomes[1].error == "RuntimeError: dependency down"
    # not the last attempt (max_receive_count=3): no FlowFailed, nothing dead-lettered
    assert [e["detail-type"] for e in moto_mesh.published()] == ["AccessDenied", "AccessDenied"]
    assert moto_mesh.dead_letters() == []


def test_flow_failed_is_published_on_the_last_attempt(
    moto_mesh: MotoMesh, calls: list[Any]
) -> None:
    router = make_router(calls)
    rt = moto_mesh.runtime()
    envelope = delivered_envelope(request(purpose="explode"), account=CONSUMER)
    for attempt in (1, 2, 3):
        result = router.resolve(
            sqs_batch(sqs_record(envelope, message_id="m", receive_count=attempt)), None, runtime=rt
        )
        assert result == {"batchItemFailures": [{"itemIdentifier": "m"}]}
    # the lock was released after each failure: the handler ran every time
    assert len(calls) == 3
    (failed,) = moto_mesh.published()
    assert failed["detail-type"] == "FlowFailed"
    detail = failed["detail"]
    assert detail["handler"] == "test.group.on_access"
    assert detail["attempts"] == 3
    assert detail["error_type"] == "RuntimeError"
    assert detail["reason"] == "dependency down"
    assert detail["correlation_id"] == CID
    assert detail["event_id"] == envelope["id"]


def test_direct_invocation_failure_reraises(moto_mesh: MotoMesh, calls: list[Any]) -> None:
    router = make_router(calls)
    envelope = delivered_envelope(request(purpose="explode"), account=CONSUMER)
    with pytest.raises(RuntimeError, match="dependency down"):
        router.resolve(envelope, None, runtime=moto_mesh.runtime())


@pytest.mark.parametrize("store", ["memory", "dynamodb"])
def test_duplicate_delivery_runs_the_handler_once(
    moto_mesh: MotoMesh, calls: list[Any], store: str
) -> None:
    router = make_router(calls)
    idempotency = (
        InMemoryIdempotencyStore()
        if store == "memory"
        else DynamoDBIdempotencyStore(moto_mesh.clients, moto_mesh.idempotency_table)
    )
    rt = moto_mesh.runtime(idempotency=idempotency)
    record = sqs_record(delivered_envelope(request(), account=CONSUMER), message_id="m")
    first = router.resolve(sqs_batch(record), None, runtime=rt)
    again = router.resolve(sqs_batch(record, dict(record, messageId="m2")), None, runtime=rt)
    assert first == again == {"batchItemFailures": []}
    assert len(calls) == 1
    assert [o.status for o in moto_mesh.outcomes] == ["ok", "duplicate", "duplicate"]
    assert len(moto_mesh.published()) == 1
    envelope_id = json.loads(record["body"])["id"]
    assert idempotency.status(f"test.group:on_access:{envelope_id}") == "COMPLETE"


def test_runtime_for_config_uses_dynamodb_when_a_table_is_configured(moto_mesh: MotoMesh) -> None:
    from meshkit.runtime.router import Runtime

    rt = Runtime.for_config(moto_mesh.config(idempotency_table="idempotency"), moto_mesh.clients)
    assert isinstance(rt.idempotency, DynamoDBIdempotencyStore)
    assert rt.publisher.bus == "mesh-bus"
    assert isinstance(
        Runtime.for_config(moto_mesh.config(), moto_mesh.clients).idempotency,
        InMemoryIdempotencyStore,
    )


def test_handler_returning_a_non_event_fails(moto_mesh: MotoMesh) -> None:
    router = EventRouter("test.group", raise_on_entire_batch_failure=False)

    @router.on(AccessDecided)
    def returns_junk(event: AccessDecided, ctx: HandlerContext) -> Any:
        return ["not an event"]

    record = sqs_record(delivered_envelope(decision(), account=CONSUMER), message_id="j")
    result = router.resolve(sqs_batch(record), None, runtime=moto_mesh.runtime())
    assert result == {"batchItemFailures": [{"itemIdentifier": "j"}]}
    assert "returned str" in (moto_mesh.outcomes[0].error or "")


def test_registration_rules() -> None:
    router = EventRouter("test.group", raise_on_entire_batch_failure=False)

    @router.on(AccessDecided)
    def handle(event: AccessDecided, ctx: HandlerContext) -> None: ...

    router.on(AccessRequested)(handle)  # the same function for another model is fine
    assert router.handlers_for(AccessRequested) == ["handle"]
    assert router.models() == [AccessDecided, AccessRequested]

    def other(event: Any, ctx: HandlerContext) -> None: ...

    other.__name__ = "handle"
    with pytest.raises(ValueError, match="already has a handler named 'handle'"):
        router.on(AccessRevoked)(other)
    with pytest.raises(ValueError, match="at least one"):
        router.on()
    with pytest.raises(TypeError, match="EventDetail"):
        router.on(dict)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="topology group"):
        EventRouter("")


def test_operational_events_are_never_reported_again(moto_mesh: MotoMesh, calls: list[Any]) -> None:
    from meshkit.events.operations import EventRejected, FlowFailed

    # GIVEN a group that receives operational events it has no handler for
    router = make_router(calls)
    rejected = EventRejected(
        kind="validation",
        handler="h",
        event_id="e",
        event_source="s",
        event_detail_type="d",
        reason="r",
    )
    record = sqs_record(delivered_envelope(rejected, account=CONSUMER))
    result = router.resolve(sqs_batch(record), None, runtime=moto_mesh.runtime())
    # THEN it is parked in the DLQ, but no new EventRejected is emitted (no report loops)
    assert result == {"batchItemFailures": []}
    assert [d["attributes"]["kind"] for d in moto_mesh.dead_letters()] == ["unknown_type"]
    assert moto_mesh.published() == []

    # and a failing handler of FlowFailed emits no FlowFailed on its last attempt
    failing = EventRouter("ops.group", raise_on_entire_batch_failure=False)

    @failing.on(FlowFailed)
    def on_failed(event: FlowFailed, ctx: HandlerContext) -> None:
        raise RuntimeError("down")

    flow_failed = FlowFailed(
        handler="h",
        event_id="e",
        event_source="s",
        event_detail_type="d",
        error_type="E",
        reason="r",
        attempts=3,
    )
    record = sqs_record(delivered_envelope(flow_failed, account=CONSUMER), receive_count=9)
    result = failing.resolve(sqs_batch(record), None, runtime=moto_mesh.runtime())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert moto_mesh.published() == []


# -- robustness: every bad record ends in one place, once, with its reason -------------------
def _bad_bodies() -> dict[str, str]:
    good = delivered_envelope(request(), account=CONSUMER)
    newline = dict(good, account=CONSUMER + "\n")
    surrogate_id = json.dumps(dict(good, id="x\ud800y"))
    surrogate_source = json.dumps(dict(good, source="meshkit.\udfffaccess"))
    return {
        "deeply-nested": '{"a":' * 100_000 + "1" + "}" * 100_000,
        "nested-detail": json.dumps(dict(good, id="nested"))[:-1]
        + ',"extra":'
        + "[" * 50_000
        + "]" * 50_000
        + "}",
        "account-with-newline": json.dumps(newline),
        "surrogate-in-id": surrogate_id,
        "surrogate-in-source": surrogate_source,
    }


@pytest.mark.parametrize("case", sorted(_bad_bodies()))
def test_a_bad_record_is_rejected_once_and_the_good_ones_proceed(
    moto_mesh: MotoMesh, calls: list[Any], case: str
) -> None:
    body = _bad_bodies()[case]
    router = make_router(calls)
    good = sqs_record(delivered_envelope(request(), account=CONSUMER), message_id="good")
    bad = sqs_record(body, message_id="bad")
    rt = moto_mesh.runtime()
    result = router.resolve(sqs_batch(bad, good), None, runtime=rt)
    assert result == {"batchItemFailures": []}
    assert len(calls) == 1  # the good record was handled
    letters = moto_mesh.dead_letters()
    assert len(letters) == 1, letters
    published = moto_mesh.published()
    kinds = sorted(e["detail-type"] for e in published)
    assert kinds == ["AccessDenied", "EventRejected"], kinds
    # A duplicate delivery of the rejected record: still one dead letter, one EventRejected.
    again = router.resolve(sqs_batch(dict(bad, messageId="bad-2")), None, runtime=rt)
    assert again == {"batchItemFailures": []}
    assert moto_mesh.dead_letters() == []
    assert moto_mesh.published() == []
