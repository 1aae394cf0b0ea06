"""meshkit.testing: a team unit-tests its handler the way Powertools users do."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from meshkit.events import AccessGranted, AccessRequested, catalogue
from meshkit.events.envelope import parse_envelope
from meshkit.runtime import router
from meshkit.testing import (
    CENTRAL_ACCOUNT,
    DOMAIN_ACCOUNT,
    eventbridge_event,
    iter_samples,
    lambda_context,
    mesh_runtime,
    sample,
    sample_envelope,
    sqs_event,
)

if TYPE_CHECKING:
    from types import ModuleType

NOTIFY = Path(__file__).resolve().parents[2] / "examples" / "domain" / "notify" / "app.py"


def _notify() -> ModuleType:
    spec = importlib.util.spec_from_file_location("notify_unit_app", NOTIFY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeSns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.published.append(kwargs)
        return {"MessageId": "m-1"}


def test_the_example_handler_is_unit_tested_with_a_sample_delivery() -> None:
    app, sns = _notify(), FakeSns()
    topic = f"arn:aws:sns:eu-west-1:{DOMAIN_ACCOUNT}:granted"
    # GIVEN the runtime of a test account with the function's settings and a fake SNS
    with mesh_runtime(settings={"topic_arn": topic}, clients={"sns": sns}) as rt:
        # WHEN the Lambda handler gets an SQS batch of one AccessGranted
        answer = app.handler(sqs_event(sample(AccessGranted)), lambda_context())
    # THEN it published, reported no failure, and the runtime recorded the outcome
    assert answer == {"batchItemFailures": []}
    assert [(o.handler, o.status) for o in rt.outcomes] == [("notify", "ok")]
    [message] = sns.published
    assert message["TopicArn"] == topic
    assert message["Message"] == "sales.orders -> marketing"
    assert router._DEFAULT_RUNTIME is None  # restored on exit


def test_a_failing_handler_fails_the_invocation_for_retry() -> None:
    from meshkit.runtime.errors import BatchFailedError

    app = _notify()
    with mesh_runtime(settings={"topic_arn": "arn:aws:sns:eu-west-1:1:t"}) as rt:
        batch = sqs_event(sample(AccessGranted))
        # no sns client: LookupError, and the batch's only record failed
        with pytest.raises(BatchFailedError, match="all 1 records"):
            app.handler(batch, lambda_context())
    assert rt.outcomes[0].status == "failed"
    assert "pass mesh_runtime(clients=" in str(rt.outcomes[0].error)


def test_an_event_no_handler_takes_is_dead_lettered_with_the_reason() -> None:
    app = _notify()
    with mesh_runtime(settings={"topic_arn": "t"}) as rt:
        answer = app.handler(sqs_event(sample(AccessRequested)), lambda_context())
    assert answer == {"batchItemFailures": []}
    [letter] = rt.dead_letters
    assert "no handler for" in letter["MessageAttributes"]["reason"]["StringValue"]
    assert [type(e).__name__ for e in rt.published] == ["EventRejected"]


@pytest.mark.parametrize("model", catalogue.all_events(), ids=lambda m: m.__name__)
def test_any_model_makes_a_delivery_the_router_reads(model: type[Any]) -> None:
    event = sample(model)
    envelope = parse_envelope(json.loads(sqs_event(event)["Records"][0]["body"]))
    assert catalogue.lookup(envelope.source, envelope.detail_type) is model
    assert catalogue.parse_detail(model, envelope.detail) == event


def test_the_sender_is_central_for_what_only_central_sends() -> None:
    assert eventbridge_event(sample(AccessGranted))["account"] == CENTRAL_ACCOUNT
    assert eventbridge_event(sample(AccessRequested))["account"] == DOMAIN_ACCOUNT
    assert eventbridge_event(sample(AccessGranted), account="3" * 12)["account"] == "3" * 12


def test_samples_ship_with_the_package() -> None:
    assert len(list(iter_samples())) == len(catalogue.all_events())
    assert sample_envelope("AccessGranted.invalid-too-many-principals")["detail-type"] == (
        "AccessGranted"
    )
    with pytest.raises(LookupError, match=r"AccessGranted\.valid"):
        sample_envelope("AccessGranted.nope")
    assert sample(AccessGranted, product="invoices").product == "invoices"


def test_a_router_resolves_its_own_models_outside_the_catalogue() -> None:
    from typing import ClassVar

    from pydantic import Field

    from meshkit.events.base import MeshEvent
    from meshkit.runtime.router import EventRouter

    class ParcelShipped(MeshEvent):
        """A team's own event, never added to meshkit's catalogue."""

        SOURCE: ClassVar[str] = "teamy.shipping"
        DETAIL_TYPE: ClassVar[str] = "ParcelShipped"
        parcel: str = Field(description="Parcel id.", examples=["p-1"])

    seen: list[str] = []
    team = EventRouter("teamy.shipping")

    @team.on(ParcelShipped)
    def shipped(event: ParcelShipped, ctx: Any) -> None:
        seen.append(event.parcel)

    with pytest.raises(Exception, match=r"teamy\.shipping"):
        catalogue.lookup("teamy.shipping", "ParcelShipped")
    with mesh_runtime() as rt:
        answer = team.resolve(sqs_event(ParcelShipped(parcel="p-7")), lambda_context())
    assert answer == {"batchItemFailures": []}
    assert seen == ["p-7"]
    assert [o.status for o in rt.outcomes] == ["ok"]
