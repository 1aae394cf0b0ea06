"""EventRouter: turns an EventBridge event or an SQS batch of them into calls of typed handlers.

Bad input is never retried forever and never dropped. An invalid envelope, an unknown
(source, detail-type), an invalid detail, an event no handler of the group takes, or a handler
raising ``RejectEvent`` is *rejected*: the router itself sends the raw event to the dead-letter
queue (``config.dead_letter_queue_url``, SQS SendMessage with the reason, kind and handler as
message attributes), publishes an ``EventRejected`` carrying the reason, and reports the record
as processed, so SQS does not redeliver what can never succeed. Without a DLQ URL a rejection
is treated as a failure (the record is retried and finally moved by SQS's own redrive policy;
a direct invocation raises) rather than being lost. An EventRejected or FlowFailed that is
itself rejected or fails is only dead-lettered, never reported again, so reports cannot loop.

Any other exception is a failure: the record is reported in ``batchItemFailures`` so SQS
redelivers it; on the last attempt (``ApproximateReceiveCount >= config.max_receive_count``) a
``FlowFailed`` is published first. A direct EventBridge invocation re-raises.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from meshkit.events.base import EventDetail
from meshkit.events.catalogue import InvalidEventError, lookup, parse_detail
from meshkit.events.envelope import InvalidEnvelopeError, parse_envelope
from meshkit.events.exceptions import UnknownEventTypeError
from meshkit.runtime import logs
from meshkit.runtime.context import HandlerContext, utc_now
from meshkit.runtime.errors import (
    BatchFailedError,
    ConfigurationError,
    MeshRuntimeError,
    RejectEvent,
)

if TYPE_CHECKING:
    from datetime import datetime

    from meshkit.events.envelope import EventEnvelope
    from meshkit.runtime.config import MeshConfig
    from meshkit.runtime.context import ClientFactory
    from meshkit.runtime.idempotency import IdempotencyStore
    from meshkit.runtime.publisher import Publisher

__all__ = [
    "DeadLetterUnavailableError",
    "EventRouter",
    "Handler",
    "Outcome",
    "Runtime",
    "default_runtime",
]

log = logging.getLogger("meshkit.runtime.router")

Status = Literal["ok", "duplicate", "rejected", "failed"]
RejectionKind = Literal["validation", "unknown_type", "authorisation", "state"]
HandlerResult = Iterable[EventDetail] | EventDetail | None
Handler = Callable[[Any, HandlerContext], HandlerResult]
H = TypeVar("H", bound=Handler)

_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_ACCOUNT_ID = re.compile(r"\A[0-9]{12}\Z")
#: SQS message attribute values and event fields are bounded; keep reasons readable and small.
_MAX_REASON = 3900
#: Source of EventRejected and FlowFailed (meshkit.events.operations), kept here so that the
#: module is not imported before it is needed.
_OPERATIONS_SOURCE = "meshkit.operations"


class DeadLetterUnavailableError(MeshRuntimeError):
    """An event must be rejected but no dead-letter queue is configured: it is not dropped."""


@dataclass
class Outcome:
    """What happened to one handler call, or to one rejected event (``handler`` = the group)."""

    handler: str
    group: str
    envelope: EventEnvelope | None
    status: Status
    follow_ups: list[EventDetail] = field(default_factory=list)
    error: str | None = None
    ms: float = 0.0
    #: The typed event when it validated.
    event: EventDetail | None = None
    #: For a rejection: validation, unknown_type, authorisation or state.
    kind: str | None = None
    #: SQS ApproximateReceiveCount of the delivery (1 for a direct invocation).
    attempt: int = 1
    #: The delivery as received, when the envelope itself could not be read.
    raw: Any = None

    @property
    def correlation_id(self) -> str | None:
        if self.event is not None:
            value = getattr(self.event, "correlation_id", None)
            return value if isinstance(value, str) else None
        if self.envelope is not None:
            value = self.envelope.detail.get("correlation_id")
            return value if isinstance(value, str) else None
        return None

    @property
    def detail_type(self) -> str | None:
        return self.envelope.detail_type if self.envelope is not None else None


@dataclass
class Runtime:
    """Everything the router needs beside the delivery: config, clients, stores, clock."""

    config: MeshConfig
    clients: ClientFactory
    idempotency: IdempotencyStore
    publisher: Publisher
    clock: Callable[[], datetime] = utc_now
    on_outcome: Callable[[Outcome], None] | None = None

    @classmethod
    def for_config(
        cls,
        config: MeshConfig,
        clients: ClientFactory,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_outcome: Callable[[Outcome], None] | None = None,
        idempotency: IdempotencyStore | None = None,
        publisher: Publisher | None = None,
    ) -> Runtime:
        """A runtime with the default stores: DynamoDB idempotency when the config names a
        table (in-memory otherwise), and a publisher on ``config.bus``."""
        from meshkit.runtime.idempotency import DynamoDBIdempotencyStore, InMemoryIdempotencyStore
        from meshkit.runtime.publisher import Publisher

        if idempotency is None:
            idempotency = (
                DynamoDBIdempotencyStore(clients, config.idempotency_table)
                if config.idempotency_table
                else InMemoryIdempotencyStore()
            )
        return cls(
            config=config,
            clients=clients,
            idempotency=idempotency,
            publisher=publisher or Publisher(clients, config.bus),
            clock=clock,
            on_outcome=on_outcome,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Runtime:
        """Lambda's runtime: ``MESHKIT_*`` configuration and the function's own credentials."""
        from meshkit.runtime.config import MeshConfig
        from meshkit.runtime.context import BotoClientFactory

        config = MeshConfig.from_env(env)
        # A team function (MeshFunction) starts here, not in lambda_entry: check its layer too.
        import pydantic

        from meshkit.runtime.lambda_entry import check_pydantic

        check_pydantic(str(pydantic.VERSION))
        if not config.idempotency_table:
            # In-memory claims would not survive the next cold start nor be seen by another
            # concurrent instance: redeliveries would run handlers twice.
            raise ConfigurationError(
                f"{MeshConfig.env_name('idempotency_table')} is not set: a Lambda function "
                "keeps its idempotency records in DynamoDB (the meshkit constructs set it; "
                "MeshFunction and add_handler do for a team's function). Refusing to start."
            )
        clients = BotoClientFactory(
            region=config.region,
            account_id=config.account_id,
            role_name=config.cross_account_role_name,
        )
        return cls.for_config(config, clients)


_DEFAULT_RUNTIME: Runtime | None = None


def default_runtime() -> Runtime:
    """The process-wide runtime built from the environment once (a warm Lambda reuses it)."""
    global _DEFAULT_RUNTIME
    if _DEFAULT_RUNTIME is None:
        _DEFAULT_RUNTIME = Runtime.from_env()
    return _DEFAULT_RUNTIME


@dataclass(frozen=True)
class _Registration:
    name: str
    fn: Handler


@dataclass
class _Delivery:
    """One event to process: its raw form, SQS metadata when it came in a batch."""

    raw: Any
    body: str
    attempt: int = 1
    message_id: str | None = None
    from_sqs: bool = False
    #: The invocation's deadline: idempotency locks taken for it expire then.
    deadline: datetime | None = None


class EventRouter:
    """Handlers of one topology group, keyed by event model.

    ``name`` is the group name (``central.access``): it prefixes idempotency keys and names the
    group in FlowFailed and EventRejected. When every record of an SQS batch failed, ``resolve``
    raises ``BatchFailedError`` (``raise_on_entire_batch_failure``), so the invocation counts in
    Lambda's ``Errors`` metric that the handler alarm watches; SQS retries the batch either way.
    """

    def __init__(self, name: str, *, raise_on_entire_batch_failure: bool = True) -> None:
        if not name:
            raise ValueError("a router needs the name of its topology group")
        self.name = name
        self.raise_on_entire_batch_failure = raise_on_entire_batch_failure
        self._handlers: dict[str, list[_Registration]] = {}
        self._models: dict[str, type[EventDetail]] = {}
        self._names: dict[str, Handler] = {}

    # -- registration -------------------------------------------------------------------------

    def on(self, *models: type[EventDetail]) -> Callable[[H], H]:
        """Register the decorated function for one or several event models."""
        if not models:
            raise ValueError("@router.on() needs at least one event model")
        for model in models:
            if not (isinstance(model, type) and issubclass(model, EventDetail)):
                raise TypeError(f"@router.on() takes EventDetail subclasses, not {model!r}")

        def decorate(fn: H) -> H:
            name = fn.__name__
            known = self._names.get(name)
            if known is not None and known is not fn:
                raise ValueError(
                    f"router {self.name} already has a handler named {name!r}; handler names "
                    "key idempotency records, give this one another name"
                )
            self._names[name] = fn
            for model in models:
                key = model.type_key()
                regs = self._handlers.setdefault(key, [])
                if not any(r.fn is fn for r in regs):
                    regs.append(_Registration(name, fn))
                self._models[key] = model
            return fn

        return decorate

    def models(self) -> list[type[EventDetail]]:
        """Every model some handler of this router takes, in registration order."""
        return list(self._models.values())

    def handlers_for(self, model: type[EventDetail]) -> list[str]:
        """Names of the handlers registered for ``model``."""
        return [r.name for r in self._handlers.get(model.type_key(), [])]

    # -- resolution ---------------------------------------------------------------------------

    def resolve(
        self,
        event: Mapping[str, Any],
        context: object | None = None,
        *,
        runtime: Runtime | None = None,
    ) -> dict[str, Any] | None:
        """Process a Lambda event: an SQS batch (answers ``batchItemFailures``) or one
        EventBridge event (answers None; raises when it failed)."""
        rt = runtime or default_runtime()
        deadline = _deadline(context, rt)
        records = event.get("Records") if isinstance(event, Mapping) else None
        if isinstance(records, list):
            return self._resolve_batch(records, rt, deadline)
        delivery = _Delivery(raw=event, body=_dumps(event), deadline=deadline)
        error = self._process(delivery, rt)
        if error is not None:
            raise error
        return None

    def _resolve_batch(
        self, records: list[Any], rt: Runtime, deadline: datetime | None
    ) -> dict[str, Any]:
        failures: list[dict[str, str]] = []
        first_error: Exception | None = None
        failed_groups: set[str] = set()
        for record in records:
            message_id = str(record.get("messageId", ""))
            attributes = record.get("attributes") or {}
            group = attributes.get("MessageGroupId")
            # FIFO: once a message of a group fails, later ones must not overtake it.
            if group is not None and group in failed_groups:
                failures.append({"itemIdentifier": message_id})
                continue
            try:
                attempt = int(attributes.get("ApproximateReceiveCount", "1"))
            except (TypeError, ValueError):
                attempt = 1
            body = record.get("body", "")
            delivery = _Delivery(
                raw=body,
                body=body if isinstance(body, str) else _dumps(body),
                attempt=attempt,
                message_id=message_id,
                from_sqs=True,
                deadline=deadline,
            )
            error = self._process(delivery, rt)
            if error is not None:
                first_error = first_error or error
                failures.append({"itemIdentifier": message_id})
                if group is not None:
                    failed_groups.add(group)
        if records and len(failures) == len(records) and self.raise_on_entire_batch_failure:
            cause = f"{type(first_error).__name__}: {first_error}" if first_error else "-"
            raise BatchFailedError(
                f"router {self.name}: all {len(records)} records of the batch failed (first: "
                f"{_short(cause)}); SQS delivers them again",
                len(failures),
            ) from first_error
        return {"batchItemFailures": failures}

    def _process(self, delivery: _Delivery, rt: Runtime) -> Exception | None:
        """Handle one event; the exception that makes it a failure, or None when processed."""
        raw = _as_mapping(delivery.raw)
        detail = raw.get("detail")
        with logs.bind(
            correlation_id=_correlation(detail).get("correlation_id"),
            event_id=_clean(str(raw.get("id") or "-"))[:128],
            handler=self.name,
        ):
            return self._process_bound(delivery, rt)

    def _process_bound(self, delivery: _Delivery, rt: Runtime) -> Exception | None:
        envelope: EventEnvelope | None = None
        try:
            envelope = parse_envelope(delivery.raw)
            # The router's own models first: a team's event need not be in the catalogue.
            model = self._models.get(f"{envelope.source}/{envelope.detail_type}") or lookup(
                envelope.source, envelope.detail_type
            )
            typed = parse_detail(model, envelope.detail)
        except (
            InvalidEnvelopeError,
            UnknownEventTypeError,
            InvalidEventError,
            RecursionError,
        ) as exc:
            kind: RejectionKind = (
                "unknown_type" if isinstance(exc, UnknownEventTypeError) else "validation"
            )
            reason = (
                "the event is nested too deeply to be read (RecursionError); an event is "
                "a JSON object of bounded depth"
                if isinstance(exc, RecursionError)
                else str(exc)
            )
            return self._reject_once(rt, delivery, envelope, reason, kind)
        registrations = self._handlers.get(model.type_key(), [])
        if not registrations:
            reason = (
                f"router {self.name} has no handler for {model.type_key()}; check the group's "
                "rule pattern in meshkit.topology against the router's @router.on models"
            )
            return self._reject(rt, delivery, envelope, typed, reason, "unknown_type", self.name)[0]
        first_error: Exception | None = None
        for registration in registrations:
            with logs.bind(handler=f"{self.name}.{registration.name}"):
                error = self._call(registration, delivery, envelope, typed, rt)
            if error is not None and first_error is None:
                first_error = error
        return first_error

    def _reject_once(
        self,
        rt: Runtime,
        delivery: _Delivery,
        envelope: EventEnvelope | None,
        reason: str,
        kind: RejectionKind,
    ) -> Exception | None:
        """Reject an event no handler saw, once per content: a duplicate delivery of it (SQS
        and EventBridge deliver at least once) leaves one dead letter and one EventRejected.
        Keyed by a hash of the body, since an unreadable envelope has no trustworthy id."""
        digest = hashlib.sha256(delivery.body.encode("utf-8", "backslashreplace")).hexdigest()
        key = f"{self.name}:rejected:{digest}"
        try:
            if _claim(rt, key, delivery) == "duplicate":
                return None
        except Exception as exc:
            return exc
        error = self._reject(rt, delivery, envelope, None, reason, kind, self.name)[0]
        try:
            if error is None:
                rt.idempotency.complete(key, now=rt.clock())
            else:
                rt.idempotency.release(key)
        except Exception as exc:
            return error or exc
        return error

    def _call(
        self,
        registration: _Registration,
        delivery: _Delivery,
        envelope: EventEnvelope,
        typed: EventDetail,
        rt: Runtime,
    ) -> Exception | None:
        key = f"{self.name}:{registration.name}:{envelope.id}"
        started = time.perf_counter()

        def report(status: Status, **extra: Any) -> None:
            self._report(
                rt,
                Outcome(
                    handler=registration.name,
                    group=self.name,
                    envelope=envelope,
                    status=status,
                    event=typed,
                    attempt=delivery.attempt,
                    ms=(time.perf_counter() - started) * 1000,
                    **extra,
                ),
            )

        try:
            claim = _claim(rt, key, delivery)
        except Exception as exc:
            return self._fail(rt, delivery, envelope, typed, registration.name, exc, report)
        if claim == "duplicate":
            report("duplicate")
            return None
        ctx = HandlerContext(
            config=rt.config,
            envelope=envelope,
            clients=rt.clients,
            handler_name=registration.name,
            clock=rt.clock,
        )
        try:
            follow_ups = _follow_ups(registration.fn(typed, ctx), registration.name)
            if follow_ups:
                rt.publisher.publish(follow_ups)
        except RejectEvent as rejection:
            error, rejected = self._reject(
                rt,
                delivery,
                envelope,
                typed,
                rejection.reason,
                rejection.kind,
                registration.name,
                report_outcome=False,
            )
            if error is None and rejection.follow_ups:
                try:
                    rt.publisher.publish(rejection.follow_ups)
                    rejected = [*rejected, *rejection.follow_ups]
                except Exception as exc:
                    error = exc
            if error is not None:
                rt.idempotency.release(key)
                return self._fail(rt, delivery, envelope, typed, registration.name, error, report)
            status: Status = "rejected"
            extra: dict[str, Any] = {
                "error": rejection.reason,
                "kind": rejection.kind,
                "follow_ups": rejected,
            }
        except Exception as exc:
            rt.idempotency.release(key)
            return self._fail(rt, delivery, envelope, typed, registration.name, exc, report)
        else:
            status, extra = "ok", {"follow_ups": follow_ups}
        try:
            # Also after a rejection: a redelivery must not dead-letter it a second time.
            rt.idempotency.complete(key, now=rt.clock())
        except Exception as exc:
            return self._fail(rt, delivery, envelope, typed, registration.name, exc, report)
        report(status, **extra)
        return None

    def _fail(
        self,
        rt: Runtime,
        delivery: _Delivery,
        envelope: EventEnvelope,
        typed: EventDetail,
        handler: str,
        exc: Exception,
        report: Callable[..., None],
    ) -> Exception:
        error = f"{type(exc).__name__}: {exc}"
        log.warning(
            "%s.%s failed on %s (attempt %d): %s",
            self.name,
            handler,
            envelope.id,
            delivery.attempt,
            error,
        )
        if delivery.from_sqs and delivery.attempt >= rt.config.max_receive_count:
            self._publish_flow_failed(rt, delivery, envelope, typed, handler, exc)
        report("failed", error=error)
        return exc

    def _publish_flow_failed(
        self,
        rt: Runtime,
        delivery: _Delivery,
        envelope: EventEnvelope,
        typed: EventDetail,
        handler: str,
        exc: Exception,
    ) -> None:
        from meshkit.events.operations import FlowFailed

        if _is_operational(delivery, envelope):
            return
        try:
            flow_failed = FlowFailed(
                **_correlation(envelope.detail),
                handler=_short(f"{self.name}.{handler}"),
                event_id=_short(envelope.id),
                event_source=_short(envelope.source),
                event_detail_type=_short(envelope.detail_type),
                error_type=_short(type(exc).__name__),
                reason=_long(str(exc) or type(exc).__name__),
                attempts=max(delivery.attempt, 1),
            )
            rt.publisher.publish([flow_failed])
        except Exception:
            # The failure itself still reaches the DLQ through SQS's redrive; do not mask it.
            log.exception("could not publish FlowFailed for %s", envelope.id)

    def _reject(
        self,
        rt: Runtime,
        delivery: _Delivery,
        envelope: EventEnvelope | None,
        typed: EventDetail | None,
        reason: str,
        kind: RejectionKind,
        handler: str,
        *,
        report_outcome: bool = True,
    ) -> tuple[Exception | None, list[EventDetail]]:
        """Dead-letter the raw event and emit EventRejected: the error when that failed, and
        the EventRejected published."""
        started = time.perf_counter()
        reason = _long(reason)
        log.warning("%s rejected an event (%s): %s", handler, kind, reason)
        error: Exception | None = None
        rejected: list[EventDetail] = []
        try:
            self._dead_letter(rt, delivery, envelope, reason, kind, handler)
            if not _is_operational(delivery, envelope):
                rejected = [self._rejected_event(delivery, envelope, reason, kind, handler)]
                rt.publisher.publish(rejected)
        except Exception as exc:
            error = exc
        if report_outcome:
            self._report(
                rt,
                Outcome(
                    handler=handler,
                    group=self.name,
                    envelope=envelope,
                    status="rejected" if error is None else "failed",
                    event=typed,
                    follow_ups=rejected if error is None else [],
                    error=reason if error is None else f"{reason}; then {error}",
                    kind=kind,
                    attempt=delivery.attempt,
                    raw=delivery.raw if envelope is None else None,
                    ms=(time.perf_counter() - started) * 1000,
                ),
            )
        return error, rejected

    def _dead_letter(
        self,
        rt: Runtime,
        delivery: _Delivery,
        envelope: EventEnvelope | None,
        reason: str,
        kind: str,
        handler: str,
    ) -> None:
        url = rt.config.dead_letter_queue_url
        if not url:
            raise DeadLetterUnavailableError(
                f"event rejected ({kind}: {reason}) but no dead-letter queue is configured; set "
                "MESHKIT_DLQ_URL so rejected events are parked instead of retried"
            )
        attributes = {
            "reason": _clean(reason),
            "kind": kind,
            "handler": handler,
            "group": self.name,
        }
        if envelope is not None:
            attributes["event_id"] = _clean(envelope.id)
            attributes["detail_type"] = _clean(envelope.detail_type)
        rt.clients.client("sqs").send_message(
            QueueUrl=url,
            MessageBody=delivery.body,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value[:_MAX_REASON] or "-"}
                for name, value in attributes.items()
            },
        )

    def _rejected_event(
        self,
        delivery: _Delivery,
        envelope: EventEnvelope | None,
        reason: str,
        kind: RejectionKind,
        handler: str,
    ) -> EventDetail:
        from meshkit.events.operations import EventRejected

        raw = _as_mapping(delivery.raw)
        if envelope is not None:
            event_id, source, detail_type = envelope.id, envelope.source, envelope.detail_type
            account: Any = envelope.account
            detail: Any = envelope.detail
        else:
            event_id = str(raw.get("id") or "unknown")
            source = str(raw.get("source") or "unknown")
            detail_type = str(raw.get("detail-type") or "unknown")
            account = raw.get("account")
            detail = raw.get("detail")
        return EventRejected(
            **_correlation(detail),
            kind=kind,
            handler=_short(handler if handler == self.name else f"{self.name}.{handler}"),
            event_id=_short(_clean(event_id)),
            event_source=_short(_clean(source)),
            event_detail_type=_short(_clean(detail_type)),
            sender_account=account
            if isinstance(account, str) and _ACCOUNT_ID.match(account)
            else None,
            reason=_clean(reason),
        )

    def _report(self, rt: Runtime, outcome: Outcome) -> None:
        if rt.on_outcome is None:
            return
        try:
            rt.on_outcome(outcome)
        except Exception:
            log.exception("on_outcome callback failed")


def _claim(rt: Runtime, key: str, delivery: _Delivery) -> str:
    """Claim ``key``, locked until the invocation's deadline when it is known."""
    if delivery.deadline is not None:
        return rt.idempotency.claim(key, now=rt.clock(), lock_until=delivery.deadline)
    return rt.idempotency.claim(key, now=rt.clock())


def _deadline(context: object | None, rt: Runtime) -> datetime | None:
    """When this invocation ends (Lambda's context), on the runtime's clock; None unknown."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    try:
        millis = int(remaining())
    except (TypeError, ValueError):
        return None
    from datetime import timedelta

    return rt.clock() + timedelta(milliseconds=max(millis, 0))


def _follow_ups(result: HandlerResult, handler: str) -> list[EventDetail]:
    if result is None:
        return []
    if isinstance(result, EventDetail):
        return [result]
    events = list(result)
    for event in events:
        if not isinstance(event, EventDetail):
            raise TypeError(
                f"handler {handler} returned {type(event).__name__}; a handler returns event "
                "models (EventDetail), an iterable of them, or None"
            )
    return events


def _is_operational(delivery: _Delivery, envelope: EventEnvelope | None) -> bool:
    """An EventRejected or FlowFailed itself: reporting on it again could loop between buses,
    so it is only dead-lettered."""
    source = envelope.source if envelope is not None else _as_mapping(delivery.raw).get("source")
    return source == _OPERATIONS_SOURCE


def _correlation(detail: Any) -> dict[str, str]:
    """The rejected event's correlation id, when its detail carries a valid one."""
    if isinstance(detail, Mapping):
        value = detail.get("correlation_id")
        if isinstance(value, str) and _CORRELATION_ID.match(value):
            return {"correlation_id": value}
    return {}


def _as_mapping(raw: Any) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str | bytes):
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return {}
        return value if isinstance(value, Mapping) else {}
    return {}


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def _clean(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (legal in JSON escapes, not in UTF-8) become
    ``\\udXXX`` escapes, so the reason and the report can be sent at all."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _short(text: str) -> str:
    text = text.strip() or "-"
    return text if len(text) <= 256 else text[:255] + "…"


def _long(text: str) -> str:
    text = text.strip() or "-"
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
