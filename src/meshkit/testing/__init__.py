"""Unit-testing a team's handler: deliveries as Lambda receives them, and a runtime without AWS.

::

    from meshkit.testing import lambda_context, mesh_runtime, sample, sqs_event

    def test_notify():
        with mesh_runtime(settings={"topic_arn": "arn:..."}, clients={"sns": sns_stub}) as rt:
            answer = handler(sqs_event(sample(AccessGranted)), lambda_context())
        assert answer == {"batchItemFailures": []}
        assert rt.outcomes[0].status == "ok"

``sqs_event`` / ``eventbridge_event`` build the deliveries for any event model (the sender is
central's account for an event only central sends, a domain's otherwise); ``sample`` gives the
valid sample event of a model (the JSON files under ``meshkit/testing/events``, also used by
meshkit's own tests); ``mesh_runtime`` is what ``router.resolve`` uses while it is open: the
configuration of a test account, in-memory idempotency, the events handlers publish and the
dead letters they park recorded instead of sent.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from types import TracebackType

    from meshkit.events.base import EventDetail
    from meshkit.runtime.config import MeshConfig
    from meshkit.runtime.router import Outcome, Runtime

    E = TypeVar("E", bound=EventDetail)

__all__ = [
    "CENTRAL_ACCOUNT",
    "DOMAIN_ACCOUNT",
    "SAMPLES_DIR",
    "LambdaContext",
    "TestRuntime",
    "eventbridge_event",
    "iter_samples",
    "lambda_context",
    "mesh_config",
    "mesh_runtime",
    "sample",
    "sample_envelope",
    "sqs_event",
]

#: The sample events: ``<Model>.valid.json`` and ``<Model>.invalid-<why>.json`` per event type.
SAMPLES_DIR = Path(__file__).resolve().parent / "events"
CENTRAL_ACCOUNT = "111111111111"
DOMAIN_ACCOUNT = "222222222222"
REGION = "eu-west-1"


def sample_envelope(name: str) -> dict[str, Any]:
    """A sample delivery by file stem: ``"AccessGranted"`` (its valid sample) or
    ``"AccessGranted.invalid-too-many-principals"``."""
    stem = name if "." in name else f"{name}.valid"
    path = SAMPLES_DIR / f"{stem}.json"
    if not path.is_file():
        known = sorted(p.stem for p in SAMPLES_DIR.glob(f"{name.split('.')[0]}.*.json"))
        raise LookupError(f"no sample event {stem!r}; samples of that type: {known}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def sample(model: type[E], **changes: Any) -> E:
    """The valid sample event of ``model``, with ``changes`` applied (and validated)."""
    from meshkit.events.catalogue import parse_detail

    detail = {**sample_envelope(model.__name__)["detail"], **changes}
    event = parse_detail(model, detail)
    assert isinstance(event, model)
    return event


def _sender(event: EventDetail, account: str | None) -> str:
    if account is not None:
        return account
    from meshkit import topology

    return CENTRAL_ACCOUNT if topology.central_only(type(event)) else DOMAIN_ACCOUNT


def eventbridge_event(
    event: EventDetail | Mapping[str, Any],
    *,
    account: str | None = None,
    region: str = REGION,
    event_id: str | None = None,
    time: datetime | None = None,
) -> dict[str, Any]:
    """The envelope EventBridge delivers for ``event`` (a model, or an envelope kept as is)
    sent by ``account`` (default: central for an event only central sends, else a domain)."""
    from meshkit.events.base import EventDetail
    from meshkit.events.envelope import delivered_envelope

    if not isinstance(event, EventDetail):
        return dict(event)
    return delivered_envelope(
        event,
        account=_sender(event, account),
        region=region,
        event_id=event_id or str(uuid.uuid4()),
        time=time or datetime.now(UTC),
    )


def sqs_event(
    *events: EventDetail | Mapping[str, Any],
    account: str | None = None,
    attempt: int = 1,
    queue_arn: str = f"arn:aws:sqs:{REGION}:{DOMAIN_ACCOUNT}:meshkit-team",
) -> dict[str, Any]:
    """An SQS batch as Lambda receives it from a rule's queue: one record per event, each body
    the EventBridge envelope, ``ApproximateReceiveCount`` = ``attempt``."""
    if not events:
        raise ValueError("sqs_event needs at least one event (a model or an envelope)")
    records = []
    for event in events:
        body = json.dumps(eventbridge_event(event, account=account))
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "test-receipt-" + uuid.uuid4().hex,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(attempt),
                    "SentTimestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
                    "SenderId": "AROAEXAMPLE:events",
                    "ApproximateFirstReceiveTimestamp": str(
                        int(datetime.now(UTC).timestamp() * 1000)
                    ),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
        )
    return {"Records": records}


@dataclass
class LambdaContext:
    """The parts of Lambda's context object meshkit reads (remaining time, request id)."""

    remaining_ms: int = 60_000
    function_name: str = "meshkit-team-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{DOMAIN_ACCOUNT}:function:meshkit-team-test"
    )

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def lambda_context(remaining_ms: int = 60_000, **fields: Any) -> LambdaContext:
    """A Lambda context with ``remaining_ms`` left before the function's timeout."""
    return LambdaContext(remaining_ms=remaining_ms, **fields)


def mesh_config(
    *, role: str = "domain", settings: Mapping[str, Any] | Any = None, **fields: Any
) -> MeshConfig:
    """A test account's configuration (domain ``sales`` or central), with ``settings`` added
    as a team function's are; ``fields`` override any MeshConfig field."""
    from meshkit.runtime.config import MeshConfig

    account = CENTRAL_ACCOUNT if role == "central" else DOMAIN_ACCOUNT
    base: dict[str, Any] = {
        "mesh_name": "test",
        "role": role,
        "account_id": account,
        "region": REGION,
        "central_account": CENTRAL_ACCOUNT,
        "bus": f"arn:aws:events:{REGION}:{account}:event-bus/meshkit-test",
        "central_bus": f"arn:aws:events:{REGION}:{CENTRAL_ACCOUNT}:event-bus/meshkit-test",
        "group": "team",
        "domain": None if role == "central" else "sales",
        "idempotency_table": "meshkit-test-idempotency",
        "dead_letter_queue_url": f"https://sqs.{REGION}.amazonaws.com/{account}/team-dlq",
    }
    base.update(fields)
    return MeshConfig(**base).with_settings(settings, what="mesh_config")


class _DeadLetters:
    """The ``sqs`` client of the test runtime: keeps what the router dead-letters."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        self.sent.append(kwargs)
        return {"MessageId": str(uuid.uuid4())}


class _Clients:
    def __init__(self, clients: Mapping[str, Any], dead_letters: _DeadLetters) -> None:
        self._clients = dict(clients)
        self._dead_letters = dead_letters
        self.calls: list[tuple[str, str | None]] = []

    def client(self, service: str, account: str | None = None) -> Any:
        self.calls.append((service, account))
        if service in self._clients:
            return self._clients[service]
        if service == "sqs":
            return self._dead_letters
        raise LookupError(
            f"the handler asked for a {service!r} client: pass mesh_runtime(clients="
            f"{{{service!r}: ...}}) (a botocore Stubber's client, a moto one, or a fake)"
        )


class TestRuntime:
    """A ``Runtime`` for unit tests, and what it recorded; a context manager that makes it
    the runtime ``router.resolve(event, context)`` uses (Lambda's default one otherwise)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        config: MeshConfig,
        clients: Mapping[str, Any],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from meshkit.runtime.idempotency import InMemoryIdempotencyStore
        from meshkit.runtime.publisher import Publisher
        from meshkit.runtime.router import Runtime

        self.outcomes: list[Outcome] = []
        self.published: list[EventDetail] = []
        self.dead_letter_client = _DeadLetters()
        self.clients = _Clients(clients, self.dead_letter_client)
        recorded = self.published

        class _Recording(Publisher):
            def publish(self, events: Any) -> list[str]:
                recorded.extend(events)
                return [str(uuid.uuid4()) for _ in events]

        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        self.runtime: Runtime = Runtime(
            config=config,
            clients=self.clients,
            idempotency=InMemoryIdempotencyStore(),
            publisher=_Recording(self.clients, config.bus),
            on_outcome=self.outcomes.append,
            **extra,
        )
        self._previous: Runtime | None = None

    @property
    def config(self) -> MeshConfig:
        return self.runtime.config

    @property
    def dead_letters(self) -> list[dict[str, Any]]:
        """The SendMessage calls of rejected events (body, reason attributes)."""
        return self.dead_letter_client.sent

    def __enter__(self) -> TestRuntime:
        from meshkit.runtime import router

        self._previous = router._DEFAULT_RUNTIME
        router._DEFAULT_RUNTIME = self.runtime
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        from meshkit.runtime import router

        router._DEFAULT_RUNTIME = self._previous


def mesh_runtime(
    *,
    role: str = "domain",
    settings: Mapping[str, Any] | Any = None,
    clients: Mapping[str, Any] | None = None,
    clock: Callable[[], datetime] | None = None,
    **fields: Any,
) -> TestRuntime:
    """A test runtime: ``mesh_config(role=..., settings=..., **fields)``, ``clients`` by
    service name (the ``sqs`` one records dead letters unless given), in-memory idempotency,
    published events recorded. Use it as a context manager around the handler call."""
    return TestRuntime(
        mesh_config(role=role, settings=settings, **fields), dict(clients or {}), clock
    )


def iter_samples(kind: str = "valid") -> Iterator[Path]:
    """Every sample file of ``kind`` (``valid`` or ``invalid``), sorted."""
    pattern = "*.valid.json" if kind == "valid" else "*.invalid-*.json"
    yield from sorted(SAMPLES_DIR.glob(pattern))
