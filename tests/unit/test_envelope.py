"""Envelope round trip: model -> PutEvents entry -> delivered envelope -> typed model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from meshkit.events import catalogue
from meshkit.events.access import AccessGranted
from meshkit.events.envelope import (
    InvalidEnvelopeError,
    delivered_envelope,
    parse_envelope,
    to_put_events_entry,
)

if TYPE_CHECKING:
    from unit_support import MotoMesh

CENTRAL, CONSUMER = "111111111111", "333333333333"


def granted() -> AccessGranted:
    return AccessGranted(
        recipients=[CONSUMER],
        request_id="req-00000001",
        consumer_domain="marketing",
        consumer_account=CONSUMER,
        producer_domain="sales",
        product="orders",
        central_account=CENTRAL,
        central_database="sales",
        tables=["orders"],
        principals=[f"arn:aws:iam::{CONSUMER}:role/analyst"],
        permissions=["SELECT"],
        sharing_mode="tag",
        lf_tag_expression={"mesh_domain": ["sales"]},
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_put_events_entry_shape() -> None:
    event = granted()
    entry = to_put_events_entry(event, bus="arn:aws:events:us-east-1:111111111111:event-bus/mesh")
    assert entry["Source"] == "meshkit.access"
    assert entry["DetailType"] == "AccessGranted"
    assert entry["EventBusName"].endswith("event-bus/mesh")
    detail = json.loads(entry["Detail"])
    assert "ram_share_arn" not in detail  # unset optionals are left out
    assert detail["lf_tag_expression"] == {"mesh_domain": ["sales"]}


def test_round_trip_offline() -> None:
    event = granted()
    raw = delivered_envelope(event, account=CENTRAL, event_id="e-1")
    envelope, parsed = catalogue.parse_event(json.dumps(raw))
    assert parsed == event
    assert (envelope.account, envelope.id, envelope.type_key) == (
        CENTRAL,
        "e-1",
        "meshkit.access/AccessGranted",
    )
    assert parse_envelope(envelope.to_dict()) == envelope


def test_round_trip_through_eventbridge(moto_mesh: MotoMesh) -> None:
    # GIVEN an event put on a bus with its PutEvents entry
    event = granted()
    events = moto_mesh.clients.client("events")
    response = events.put_events(Entries=[to_put_events_entry(event, bus="mesh-bus")])
    assert response["FailedEntryCount"] == 0
    # WHEN EventBridge delivers it (here: to the capture queue)
    (delivered,) = moto_mesh.published()
    # moto leaves out the sender account that AWS always sets (moto-capabilities.md §2)
    delivered.setdefault("account", CENTRAL)
    # THEN the delivered envelope parses back to the same typed event
    envelope, parsed = catalogue.parse_event(delivered)
    assert parsed == event
    assert envelope.id == response["Entries"][0]["EventId"]


def test_replay_name_is_kept() -> None:
    raw = delivered_envelope(granted(), account=CENTRAL)
    raw["replay-name"] = "rep1"
    assert parse_envelope(raw).replay_name == "rep1"


@pytest.mark.parametrize(
    "raw",
    ["{not json", "[]", json.dumps({"id": "x"})],
    ids=["not-json", "array", "missing-fields"],
)
def test_invalid_envelopes(raw: str) -> None:
    with pytest.raises(InvalidEnvelopeError):
        parse_envelope(raw)
