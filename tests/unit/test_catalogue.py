"""The catalogue: (source, detail-type) -> model, unknown pairs, registration conflicts."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pytest

from meshkit.events import catalogue
from meshkit.events.access import AccessRequested
from meshkit.events.base import MeshEvent
from meshkit.events.exceptions import EventContractError, UnknownEventTypeError

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def clean_registry() -> Iterator[None]:
    before = dict(catalogue._REGISTRY)
    yield
    catalogue._REGISTRY.clear()
    catalogue._REGISTRY.update(before)


def test_lookup_finds_builtin_models() -> None:
    assert catalogue.lookup("meshkit.access", "AccessRequested") is AccessRequested


def test_unknown_pair_is_a_clear_error() -> None:
    with pytest.raises(UnknownEventTypeError) as info:
        catalogue.lookup("meshkit.access", "AccessTeleported")
    message = str(info.value)
    assert "meshkit.access" in message
    assert "AccessTeleported" in message
    assert "meshkit events list" in message
    assert (info.value.source, info.value.detail_type) == ("meshkit.access", "AccessTeleported")


def test_every_mesh_source_is_not_aws_and_types_are_unique() -> None:
    keys = [(m.SOURCE, m.DETAIL_TYPE) for m in catalogue.all_events()]
    assert len(keys) == len(set(keys))
    for model in catalogue.mesh_events():
        assert not model.SOURCE.startswith("aws.")
        assert 0 < len(model.DETAIL_TYPE) <= 128
    assert {m.SOURCE for m in catalogue.all_events() if m.EXTERNAL} == {
        "aws.glue",
        "aws.events",
        "aws.s3",
    }


@pytest.mark.usefixtures("clean_registry")
def test_register_a_team_event_and_conflicts() -> None:
    @catalogue.register
    class OrderShipped(MeshEvent):
        """A team's own event."""

        SOURCE: ClassVar[str] = "team.logistics"
        DETAIL_TYPE: ClassVar[str] = "OrderShipped"

    assert catalogue.lookup("team.logistics", "OrderShipped") is OrderShipped
    assert OrderShipped in catalogue.mesh_events()
    catalogue.register(OrderShipped)  # registering the same model again is harmless

    class Impostor(MeshEvent):
        SOURCE: ClassVar[str] = "team.logistics"
        DETAIL_TYPE: ClassVar[str] = "OrderShipped"

    with pytest.raises(EventContractError, match="already registered to OrderShipped"):
        catalogue.register(Impostor)


def test_aws_sources_are_refused_for_mesh_events() -> None:
    with pytest.raises(EventContractError, match=r"must not start with 'aws\.'"):

        class Sneaky(MeshEvent):
            SOURCE: ClassVar[str] = "aws.glue"
            DETAIL_TYPE: ClassVar[str] = "Sneaky"
