"""The mesh's event schemas for the EventBridge Schema Registry (draft-04, one per event)."""

from __future__ import annotations

import json
from functools import cache

__all__ = ["mesh_schemas", "schema_name"]


def schema_name(source: str, detail_type: str) -> str:
    """``source@DetailType``, the name ``events/schemas/`` files carry (without ``.json``)."""
    return f"{source}@{detail_type}"


@cache
def mesh_schemas() -> dict[str, str]:
    """Every mesh event's JSON schema (as compact JSON text), keyed by schema name.

    Generated from the models with ``meshkit.events.schema`` at synth time, so the registry
    always matches the code that ships; ``events/schemas/`` holds the same documents.
    """
    try:
        from meshkit.events import schema
    except ImportError as exc:
        raise RuntimeError(
            "meshkit.events.schema is missing, the schema registry cannot be built; "
            "install a complete meshkit"
        ) from exc
    from meshkit.events.catalogue import mesh_events

    out: dict[str, str] = {}
    for model in mesh_events():
        doc = schema.model_schema(model)
        out[schema_name(model.SOURCE, model.DETAIL_TYPE)] = json.dumps(doc, sort_keys=True)
    return dict(sorted(out.items()))
