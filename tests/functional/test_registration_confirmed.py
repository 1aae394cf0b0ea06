"""Confirmed registration (meshkit.runtime.registration) in the local mesh: a failed or dropped
PutEvents entry is sent again until the domain's state records central's answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from meshkit.local.mesh import LocalMesh
from meshkit.runtime import registration

if TYPE_CHECKING:
    from collections.abc import Iterator

CENTRAL, SALES = "111111111111", "222222222222"


@pytest.fixture
def mesh() -> Iterator[LocalMesh]:
    with LocalMesh(name="reg", central_account=CENTRAL, seed=1) as m:
        yield m


def _state(mesh: LocalMesh, domain: str) -> dict[str, Any]:
    handle = mesh.domain(domain)
    item = handle.client("dynamodb").get_item(
        TableName=handle.resources.state_table,
        Key={"pk": {"S": "DOMAIN"}, "sk": {"S": domain}},
        ConsistentRead=True,
    )
    return dict(item.get("Item", {}))


def _active(mesh: LocalMesh) -> list[str]:
    return [d.domain for d in mesh.registered_domains() if d.status == "ACTIVE"]


def test_registration_is_sent_once_when_it_is_answered(mesh: LocalMesh) -> None:
    handle = mesh.add_domain("sales", account=SALES, register=False)
    assert handle.register() == 1
    assert "registration_correlation_id" in _state(mesh, "sales")
    assert _active(mesh) == ["sales"]


@pytest.mark.parametrize("fault", [{"fail": 2}, {"drop": 1}, {"fail": 1, "drop": 1}])
def test_failed_or_dropped_entries_are_sent_again_until_acknowledged(
    mesh: LocalMesh, fault: dict[str, int]
) -> None:
    # GIVEN a domain whose first PutEvents entries fail inside a 200 answer, or vanish
    handle = mesh.add_domain("sales", account=SALES, register=False)
    mesh.faults.put_events(**fault)
    # WHEN it registers as its stack does
    sends = handle.register()
    # THEN it kept asking until central's DomainRegistered was recorded in its state
    assert sends == 1 + sum(fault.values())
    assert sum(n for k, n in mesh.faults.injected.items() if "PutEvents" in k) == sum(
        fault.values()
    )
    assert "registered_at" in _state(mesh, "sales")
    assert _active(mesh) == ["sales"]


def test_an_answer_to_an_earlier_request_does_not_confirm_this_one(mesh: LocalMesh) -> None:
    handle = mesh.add_domain("sales", account=SALES)  # registered once, the quick way
    mesh.run_until_idle()
    before = _state(mesh, "sales")["registration_correlation_id"]["S"]
    # an update of the stack: its request must be answered itself
    mesh.faults.put_events(drop=1)
    assert handle.register() == 2
    assert _state(mesh, "sales")["registration_correlation_id"]["S"] != before


def test_registration_that_is_never_answered_fails(mesh: LocalMesh) -> None:
    handle = mesh.add_domain("sales", account=SALES, register=False)
    mesh.faults.put_events(fail=3)
    with pytest.raises(registration.NotAcknowledgedError, match=r"after 3 sends.*InternalFailure"):
        handle.register(max_attempts=3)
    assert "registered_at" not in _state(mesh, "sales")


class _Events:
    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers, self.calls = answers, 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        return self.answers.pop(0)


FAILED = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}
OK = {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}
ENTRY = {"Source": "meshkit.domains", "DetailType": "X", "Detail": "{}", "EventBusName": "b"}


def test_deregistration_is_sent_again_while_its_entry_fails() -> None:
    events = _Events([FAILED, FAILED, OK])
    waits: list[float] = []
    assert registration.deregister(events, ENTRY, wait=waits.append) == "e-1"
    assert events.calls == 3
    assert waits == [registration.FIRST_DELAY, 2 * registration.FIRST_DELAY]
    with pytest.raises(registration.EntryFailedError, match="InternalFailure"):
        registration.deregister(_Events([FAILED] * 2), ENTRY, wait=waits.append, attempts=2)


@pytest.mark.parametrize(
    ("kind", "request_type", "sends"),
    [
        ("deregistration", "Create", 0),
        ("deregistration", "Update", 0),
        ("deregistration", "Delete", 1),
        ("registration", "Delete", 0),  # deregistration is the other resource's, deleted last
    ],
)
def test_custom_resource_requests(kind: str, request_type: str, sends: int) -> None:
    events = _Events([OK])
    event = {
        "RequestType": request_type,
        "RequestId": "r-1",
        "ResourceProperties": {"Kind": kind, "Entry": ENTRY},
    }
    registration.handle(event, events=events, dynamodb=None, remaining_seconds=900)
    assert events.calls == sends


def test_deregistration_goes_straight_to_the_central_bus(mesh: LocalMesh) -> None:
    """As the deployed Deregistration resource sends it (the forward rule is gone by then):
    the domain account's PutEvents on the central bus, which its policy admits for members."""
    import json

    from meshkit.events.domains import DomainDeregistrationRequested
    from meshkit.events.envelope import to_put_events_entry

    mesh.add_domain("sales", account=SALES)
    mesh.run_until_idle()
    assert _active(mesh) == ["sales"]
    central_bus = mesh.central.resources.bus_arn
    entry = to_put_events_entry(
        DomainDeregistrationRequested(domain="sales", account_id=SALES), bus=central_bus
    )

    class CrossAccount:
        """moto looks a bus ARN up in the caller's account; the mesh routes it as EventBridge
        does a member's PutEvents on another account's bus."""

        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            (sent,) = Entries
            assert sent["EventBusName"] == central_bus
            raw = {"source": sent["Source"], "detail-type": sent["DetailType"]}
            event_id = mesh.put_from(SALES, {**raw, "detail": json.loads(sent["Detail"])})
            return {"FailedEntryCount": 0, "Entries": [{"EventId": event_id}]}

    registration.deregister(CrossAccount(), entry)
    mesh.run_until_idle()
    assert _active(mesh) == []
