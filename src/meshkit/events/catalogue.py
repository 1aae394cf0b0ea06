"""The catalogue: (source, detail-type) -> model, for built-in and team-registered events."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from meshkit.events.envelope import EventEnvelope, parse_envelope
from meshkit.events.exceptions import EventContractError, UnknownEventTypeError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from meshkit.events.base import EventDetail

__all__ = [
    "BUILTIN_MODULES",
    "InvalidEventError",
    "all_events",
    "lookup",
    "mesh_events",
    "parse_detail",
    "parse_event",
    "register",
]

E = TypeVar("E", bound="type[EventDetail]")

#: The lifecycle modules whose models make up the built-in catalogue, in catalogue order.
BUILTIN_MODULES = (
    "domains",
    "products",
    "access",
    "permissions",
    "erasure",
    "publication",
    "dropzone",
    "operations",
    "aws",
)

_REGISTRY: dict[tuple[str, str], type[EventDetail]] = {}
_LOADED = False


class InvalidEventError(EventContractError):
    """A known event type whose detail does not validate."""

    def __init__(self, model: type[EventDetail], error: ValidationError) -> None:
        self.model = model
        self.errors = error.errors(include_url=False)
        super().__init__(f"invalid {model.DETAIL_TYPE} detail: {error}")


def _load_builtins() -> None:
    global _LOADED
    if _LOADED:
        return
    from meshkit.events.base import EventDetail

    _LOADED = True
    for name in BUILTIN_MODULES:
        module = importlib.import_module(f"meshkit.events.{name}")
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if (
                isinstance(obj, type)
                and issubclass(obj, EventDetail)
                and "DETAIL_TYPE" in obj.__dict__
            ):
                register(obj)


def register(model: E) -> E:
    """Register a model (use as a class decorator for a team's own events)."""
    key = (model.SOURCE, model.DETAIL_TYPE)
    existing = _REGISTRY.get(key)
    if existing is not None and existing is not model:
        raise EventContractError(
            f"{model.__name__}: {model.type_key()} is already registered to {existing.__name__}"
        )
    _REGISTRY[key] = model
    return model


def lookup(source: str, detail_type: str) -> type[EventDetail]:
    """The model for a (source, detail-type) pair; UnknownEventTypeError when there is none."""
    _load_builtins()
    try:
        return _REGISTRY[(source, detail_type)]
    except KeyError:
        raise UnknownEventTypeError(source, detail_type) from None


def all_events() -> list[type[EventDetail]]:
    """Every registered model, built-ins first."""
    _load_builtins()
    return list(_REGISTRY.values())


def mesh_events() -> list[type[EventDetail]]:
    """Registered meshkit events (not AWS service events): those with published schemas."""
    return [m for m in all_events() if not m.EXTERNAL]


def parse_detail(model: type[EventDetail], detail: Mapping[str, Any]) -> EventDetail:
    """Validate ``detail`` as ``model``; InvalidEventError names what is wrong."""
    try:
        return model.model_validate(detail)
    except ValidationError as exc:
        raise InvalidEventError(model, exc) from exc


def parse_event(raw: Mapping[str, Any] | str | bytes) -> tuple[EventEnvelope, EventDetail]:
    """Envelope first, then the detail with the model the catalogue names for it."""
    envelope = parse_envelope(raw)
    model = lookup(envelope.source, envelope.detail_type)
    return envelope, parse_detail(model, envelope.detail)
