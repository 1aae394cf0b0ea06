"""Event models against the sample events (meshkit/testing/events, shipped): valid and invalid
cases per type."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from meshkit.events import catalogue
from meshkit.events.access import AccessDenied, AccessRequested
from meshkit.events.envelope import to_put_events_entry
from meshkit.events.erasure import ErasurePlanned
from meshkit.events.exceptions import EventContractError, EventTooLargeError
from meshkit.testing import SAMPLES_DIR

if TYPE_CHECKING:
    from pathlib import Path

SAMPLES = SAMPLES_DIR
VALID = sorted(SAMPLES.glob("*.valid.json"))
INVALID = sorted(SAMPLES.glob("*.invalid-*.json"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def model_name(path: Path) -> str:
    return path.name.split(".", 1)[0]


def test_every_event_type_has_valid_and_invalid_samples() -> None:
    names = {m.__name__ for m in catalogue.all_events()}
    assert {model_name(p) for p in VALID} == names
    assert {model_name(p) for p in INVALID} == names


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_sample_parses_to_its_model(path: Path) -> None:
    envelope, event = catalogue.parse_event(load(path))
    assert type(event).__name__ == model_name(path)
    assert (envelope.source, envelope.detail_type) == (event.SOURCE, event.DETAIL_TYPE)
    # the detail survives serialisation unchanged
    again = catalogue.parse_detail(type(event), json.loads(event.detail_json()))
    assert again == event


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_sample_is_refused(path: Path) -> None:
    with pytest.raises(EventContractError):
        catalogue.parse_event(load(path))


def test_correlation_id_and_schema_version_on_every_mesh_event() -> None:
    for model in catalogue.mesh_events():
        assert {"correlation_id", "schema_version"} <= set(model.model_fields)


def test_follow_up_carries_the_correlation_id() -> None:
    cause = AccessRequested.model_validate(load(SAMPLES / "AccessRequested.valid.json")["detail"])
    effect = AccessDenied(
        recipients=["333333333333"],
        request_id=cause.request_id,
        consumer_domain="marketing",
        producer_domain="sales",
        product="orders",
        reason="no",
        decided_by="policy",
        **cause.follow_up(),
    )
    assert effect.correlation_id == cause.correlation_id


def test_fresh_events_get_distinct_correlation_ids() -> None:
    detail = load(SAMPLES / "AccessRequested.valid.json")["detail"]
    del detail["correlation_id"]
    assert AccessRequested(**detail).correlation_id != AccessRequested(**detail).correlation_id


def test_event_over_256_kb_is_refused_at_construction() -> None:
    objects = [f"s3://sales-data/{n:04d}/" + "k" * 990 for n in range(300)]
    with pytest.raises(ValidationError, match="256 KB"):
        ErasurePlanned(
            erasure_id="er-00000001", domain="sales", objects=objects, total_objects=300, rows=1
        )


def test_put_events_entry_over_256_kb_is_refused() -> None:
    # model_construct skips validation: the entry builder is the second line of defence
    event = ErasurePlanned.model_construct(
        erasure_id="er-00000001",
        domain="sales",
        objects=["s3://b/" + "k" * 1000] * 300,
        total_objects=300,
        rows=1,
        correlation_id="corr-00000001",
        schema_version=1,
    )
    with pytest.raises(EventTooLargeError, match="256 KB"):
        to_put_events_entry(event, bus="mesh-bus")


def test_s3_object_events_read_both_etag_spellings() -> None:
    from meshkit.events.aws import S3ObjectCreated

    aws = load(SAMPLES / "S3ObjectCreated.valid.json")["detail"]
    moto_shape = {**aws, "object": {**aws["object"], "eTag": aws["object"]["etag"]}}
    del moto_shape["object"]["etag"]
    assert (
        S3ObjectCreated.model_validate(aws).object.etag
        == S3ObjectCreated.model_validate(moto_shape).object.etag
        == "d41d8cd98f00b204e9800998ecf8427e"
    )
