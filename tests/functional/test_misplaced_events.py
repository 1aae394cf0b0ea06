"""Misplaced events are rejected visibly: the guard group of each mesh bus (topology.guard_pattern)
dead-letters them with the trust table's reason and publishes EventRejected; nothing else sees
them. The other groups run recording routers (conftest), the guards their real router."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from meshkit.events.access import AccessGranted, AccessRequested
from meshkit.events.base import EventDetail
from meshkit.events.domains import DomainRegistrationRequested
from meshkit.events.products import ProductRegistered, ProductRegistrationRequested
from meshkit.events.schema import example_detail

if TYPE_CHECKING:
    from meshkit.local.mesh import LocalMesh

# As tests/functional/conftest.py provisions them.
CENTRAL, SALES, MARKETING = "111111111111", "222222222222", "333333333333"
OUTSIDER = "999999999999"
M = TypeVar("M", bound=EventDetail)


def _example(model: type[M], **fields: Any) -> M:
    """The catalogue's example of ``model`` (accounts as in conftest), with ``fields`` set."""
    return model.model_validate({**example_detail(model), **fields})


def _granted() -> AccessGranted:
    return _example(AccessGranted, recipients=[MARKETING])


def _guard_letters(mesh: LocalMesh, account: str) -> list[Any]:
    return [
        d for d in mesh.dead_letters(account) if d.attributes.get("group", "").endswith("guard")
    ]


def _rejections(mesh: LocalMesh, detail_type: str) -> list[dict[str, Any]]:
    return [r for r in mesh.published("EventRejected") if r["event_detail_type"] == detail_type]


def test_a_central_only_event_a_domain_puts_on_its_own_bus_is_rejected(
    two_domains: LocalMesh, recorder: Any
) -> None:
    # GIVEN marketing forging a grant on its own bus (its consumer group would act on it)
    two_domains.domain("marketing").put(_granted())
    two_domains.run_until_idle()
    # THEN its guard rejected it, no group saw it, and the rejection names the rule
    assert recorder.of("domain.consumer", "AccessGranted") == []
    [letter] = _guard_letters(two_domains, MARKETING)
    assert letter.attributes["group"] == "domain.guard"
    assert letter.attributes["kind"] == "authorisation"
    assert (
        f"AccessGranted from account {MARKETING} has no business on the domain bus"
        in (letter.attributes["reason"])
    )
    [rejected] = _rejections(two_domains, "AccessGranted")
    assert rejected["sender_account"] == MARKETING
    assert rejected["handler"] == "domain.guard.reject_misplaced"
    assert _guard_letters(two_domains, CENTRAL) == []


def test_a_central_only_event_a_domain_puts_on_centrals_bus_is_rejected(
    two_domains: LocalMesh, recorder: Any
) -> None:
    two_domains.put_from(SALES, _granted(), bus="central")
    two_domains.run_until_idle()
    # central's subscription rules take central's own events only: marketing never got it
    assert recorder.of("domain.consumer") == []
    [letter] = _guard_letters(two_domains, CENTRAL)
    assert letter.attributes["group"] == "central.guard"
    assert "has no business on the central bus" in letter.attributes["reason"]
    assert [r["sender_account"] for r in _rejections(two_domains, "AccessGranted")] == [SALES]


def test_a_domains_event_central_puts_on_its_own_bus_is_rejected(
    two_domains: LocalMesh, recorder: Any
) -> None:
    two_domains.central.put(_example(ProductRegistrationRequested))
    two_domains.run_until_idle()
    assert recorder.of("central.onboarding") == []
    [letter] = _guard_letters(two_domains, CENTRAL)
    assert f"ProductRegistrationRequested from account {CENTRAL}" in letter.attributes["reason"]
    assert len(_rejections(two_domains, "ProductRegistrationRequested")) == 1


def test_anything_a_third_account_puts_on_a_domain_bus_is_rejected(
    two_domains: LocalMesh, recorder: Any
) -> None:
    event = _example(ProductRegistered, recipients=[SALES])
    two_domains.put_from(OUTSIDER, event, bus="sales")
    two_domains.run_until_idle()
    assert recorder.of("domain.producer") == []
    [letter] = _guard_letters(two_domains, SALES)
    assert (
        f"from account {OUTSIDER} has no business on the domain bus"
        in (letter.attributes["reason"])
    )


def test_an_unknown_meshkit_type_is_rejected_as_unknown(two_domains: LocalMesh) -> None:
    two_domains.put_from(
        SALES,
        {"source": "meshkit.access", "detail-type": "AccessGrantedForever", "detail": {}},
        bus="central",
    )
    two_domains.run_until_idle()
    [letter] = _guard_letters(two_domains, CENTRAL)
    assert letter.attributes["kind"] == "unknown_type"
    assert len(_rejections(two_domains, "AccessGrantedForever")) == 1


def test_what_the_table_lets_in_never_reaches_a_guard(
    two_domains: LocalMesh, recorder: Any
) -> None:
    # GIVEN the ordinary traffic of both directions
    sales = two_domains.domain("sales")
    sales.put(
        DomainRegistrationRequested(
            domain="sales", account_id=SALES, storage_uri=sales.storage_uri, sharing_mode="named"
        )
    )
    marketing = two_domains.domain("marketing")
    marketing.put(
        AccessRequested(
            request_id="req-ordinary-1",
            consumer_domain="marketing",
            producer_domain="sales",
            product="orders",
            tables=["orders"],
            principals=[marketing.principal("analyst")],
            purpose="testing",
        )
    )
    two_domains.central.put(_granted())
    two_domains.run_until_idle()
    # THEN each reached its group and no guard took anything
    assert len(recorder.of("central.onboarding", "DomainRegistrationRequested")) == 1
    assert len(recorder.of("central.access", "AccessRequested")) == 1
    assert len(recorder.of("domain.consumer", "AccessGranted")) == 1
    assert [d for d in two_domains.dead_letters() if "guard" in d.queue] == []
    assert two_domains.published("EventRejected") == []
