"""Delivery as Lambda's SQS event source does it: batches, partial failures, retries, DLQ."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from moto.events.models import events_backends

from meshkit.events.aws import ScheduledEvent
from meshkit.events.domains import DomainRegistered, DomainRegistrationRequested
from meshkit.events.products import ProductLinked
from meshkit.local.delivery import MeshNotIdleError
from meshkit.local.mesh import LocalMesh
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.runtime.context import HandlerContext

CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"


def _linked(product: str) -> ProductLinked:
    return ProductLinked(
        domain="sales", product=product, link_database="l", crawler_name="c", crawl_started=True
    )


def test_a_failing_record_is_retried_then_dead_lettered(
    two_domains: LocalMesh, recorder: Any
) -> None:
    # GIVEN a central handler that always fails on product "bad"
    def fail_on_bad(event: Any, ctx: HandlerContext) -> None:
        if getattr(event, "product", None) == "bad":
            raise RuntimeError("catalog unavailable")

    recorder.behaviour["central.onboarding"] = fail_on_bad
    sales = two_domains.domain("sales")
    # WHEN a good and a bad event arrive in one batch
    sales.put(_linked("good"))
    sales.put(_linked("bad"))
    two_domains.run_until_idle()
    # THEN the good one is handled once, the bad one three times (maxReceiveCount) ...
    products = [s.event.product for s in recorder.of("central.onboarding")]
    assert products.count("good") == 1
    assert products.count("bad") == 3
    # ... and then sits in the group's DLQ with the original envelope
    (letter,) = two_domains.dead_letters(CENTRAL)
    assert letter.queue == "t-central-onboarding-dlq"
    assert letter.body["detail"]["product"] == "bad"
    assert letter.body["account"] == SALES
    assert two_domains.dead_letters(SALES) == []
    # the timeline shows the three failed attempts
    failed = [e for e in two_domains.timeline if e.status == "failed"]
    assert len(failed) == 3
    assert all("catalog unavailable" in (e.error or "") for e in failed)
    # and on the last attempt the router told the mesh: FlowFailed on central's bus, which
    # the central archive keeps
    archive = events_backends[CENTRAL]["us-east-1"].archives["t-central-archive"]
    flow_failed = [e for e in archive.events if e["detail-type"] == "FlowFailed"]
    assert len(flow_failed) == 1
    assert flow_failed[0]["detail"]["attempts"] == 3


def test_malformed_events_are_rejected_to_the_dlq_with_the_reason(
    two_domains: LocalMesh, recorder: Any
) -> None:
    # An invalid detail for a known type: the router rejects it (no retry), to the DLQ.
    two_domains.domain("sales").put(
        {
            "source": DomainRegistrationRequested.SOURCE,
            "detail-type": DomainRegistrationRequested.DETAIL_TYPE,
            "detail": {"domain": "Not A Name", "account_id": "1"},
        }
    )
    two_domains.run_until_idle()
    assert recorder.of("central.onboarding") == []
    (letter,) = two_domains.dead_letters()
    assert letter.body["detail"]["domain"] == "Not A Name"
    assert letter.attributes, "the router records the reason as message attributes"
    assert any("valid" in v.lower() for v in letter.attributes.values())
    rejected = [e for e in two_domains.timeline if e.status == "rejected"]
    assert len(rejected) == 1
    assert rejected[0].sender == SALES


def test_duplicate_delivery_delivers_each_envelope_twice(
    two_domains: LocalMesh, recorder: Any
) -> None:
    two_domains.faults.duplicate_delivery = True
    two_domains.domain("sales").put(_linked("orders"))
    assert two_domains.run_until_idle() == 2
    # the router's idempotency turns the second into a duplicate: the handler runs once
    assert len(recorder.of("central.onboarding")) == 1
    statuses = sorted(e.status for e in two_domains.timeline)
    assert statuses == ["duplicate", "ok"]


def test_shuffle_changes_order_but_not_what_is_delivered(recorder: Any) -> None:
    def run(shuffle: bool, seed: int) -> list[str]:
        recorder.seen.clear()
        with LocalMesh(name="s", seed=seed, routers=recorder.routers(), lake=False) as mesh:
            mesh.add_domain("sales", account=SALES, register=False)
            mesh.faults.shuffle = shuffle
            for i in range(10):
                mesh.domain("sales").put(_linked(f"p{i}"))
            mesh.run_until_idle()
        return [s.event.product for s in recorder.of("central.onboarding")]

    in_order = run(False, 0)
    assert in_order == [f"p{i}" for i in range(10)]
    shuffled = run(True, 0)
    assert sorted(shuffled) == sorted(in_order)
    assert shuffled != in_order
    assert run(True, 0) == shuffled, "the same seed gives the same order"


def test_run_until_idle_raises_when_a_flow_never_settles(
    two_domains: LocalMesh, recorder: Any
) -> None:
    # A central handler that answers every registration by addressing the domain, whose
    # producer answers with a new registration: an endless ping-pong.
    def ping(event: Any, ctx: HandlerContext) -> Any:
        return DomainRegistered(
            domain="sales",
            account_id=SALES,
            central_database="sales",
            lf_tag_key="mesh_domain",
            sharing_mode="named",
            recipients=[SALES],
        )

    def pong(event: Any, ctx: HandlerContext) -> Any:
        return _linked("again")

    recorder.behaviour["central.onboarding"] = ping
    recorder.behaviour["domain.producer"] = pong
    two_domains.domain("sales").put(_linked("start"))
    with pytest.raises(MeshNotIdleError, match="did not settle within 20 rounds"):
        two_domains.run_until_idle(max_rounds=20)


def test_advance_fires_the_sweep_schedule(two_domains: LocalMesh, recorder: Any) -> None:
    start = two_domains.clock()
    assert two_domains.advance(timedelta(minutes=59)) == 0
    assert two_domains.advance(timedelta(hours=2)) == 2
    two_domains.run_until_idle()
    seen = recorder.of("central.access", ScheduledEvent.DETAIL_TYPE)
    assert len(seen) == 2
    envelope = seen[0].envelope
    assert envelope["source"] == "aws.events"
    assert envelope["account"] == CENTRAL
    assert envelope["resources"] == [
        f"arn:aws:events:us-east-1:{CENTRAL}:rule/t-central-access-schedule"
    ]
    assert two_domains.clock() - start >= timedelta(hours=2, minutes=59)
    # the schedule rule matched nothing else on central's default bus
    two_domains.emit_aws_event(CENTRAL, "aws.s3", "Object Created", {"bucket": {"name": "x"}})
    two_domains.run_until_idle()
    assert len(recorder.of("central.access")) == 2


def test_add_handler_subscribes_a_team_router(two_domains: LocalMesh) -> None:
    team = EventRouter("marketing.audit")
    got: list[tuple[str, str]] = []

    @team.on(DomainRegistered)
    def audit(event: DomainRegistered, ctx: HandlerContext) -> None:
        got.append((event.domain, ctx.sender_account))

    wiring = two_domains.add_handler("marketing", [DomainRegistered], team)
    assert wiring.queue_url.endswith(f"/{MARKETING}/t-marketing-marketing-audit")
    two_domains.central.put(
        DomainRegistered(
            domain="marketing",
            account_id=MARKETING,
            central_database="marketing",
            lf_tag_key="mesh_domain",
            sharing_mode="named",
            recipients=[MARKETING],
        )
    )
    two_domains.run_until_idle()
    assert got == [("marketing", CENTRAL)]
    entry = next(e for e in two_domains.timeline if e.group == "marketing.audit")
    assert (entry.domain, entry.handler, entry.status) == ("marketing", "audit", "ok")


def test_timeline_entries(two_domains: LocalMesh) -> None:
    event = _linked("orders")
    two_domains.domain("sales").put(event)
    two_domains.run_until_idle()
    (entry,) = two_domains.timeline
    assert entry.account == CENTRAL
    assert entry.domain == "central"
    assert entry.group == "central.onboarding"
    assert entry.handler == "record_central_onboarding"
    assert entry.detail_type == "ProductLinked"
    assert entry.status == "ok"
    assert entry.correlation_id == event.correlation_id
    assert entry.sender == SALES
    assert entry.ms >= 0
    assert entry.account_label == f"central ({CENTRAL})"


def test_a_group_whose_router_cannot_be_imported_fails_its_deliveries_only(
    recorder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import meshkit.local.mesh as mesh_module
    from meshkit import topology

    real = topology.group("central.onboarding")
    broken = topology.HandlerGroup(
        name=real.name, role=real.role, router="meshkit.no_such_module:router", events=real.events
    )
    monkeypatch.setattr(
        mesh_module.topology, "group", lambda name: broken if name == real.name else real
    )
    routers = recorder.routers()
    routers.pop("central.onboarding")
    with LocalMesh(name="n", routers=routers, lake=False) as mesh:
        mesh.add_domain("sales", account=SALES, register=False)
        mesh.domain("sales").put(_linked("x"))
        # every delivery fails, is retried, and is dead-lettered: nothing lost, mesh settles
        assert mesh.run_until_idle() == 3
        assert len(mesh.dead_letters(CENTRAL)) == 1
        assert len(mesh.delivery.crashes) == 3
        assert "cannot import its router 'meshkit.no_such_module:router'" in (
            mesh.delivery.crashes[0].error
        )
