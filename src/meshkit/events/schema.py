"""JSON Schema (draft-04, the EventBridge Schema Registry format) for every mesh event.

pydantic emits draft 2020-12; ``model_schema`` converts it: ``definitions`` instead of ``$defs``,
``enum`` instead of ``const``, boolean exclusive bounds, no ``$ref`` siblings.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from meshkit.events.base import EventDetail

__all__ = [
    "DRAFT4",
    "MANIFEST",
    "MAX_SCHEMA_CHARS",
    "SchemaProblem",
    "check",
    "example_detail",
    "export",
    "field_rows",
    "missing_descriptions",
    "model_schema",
    "models_of",
    "nested_rows",
    "render",
    "schema_filename",
]

DRAFT4 = "http://json-schema.org/draft-04/schema#"
#: The Schema Registry refuses larger schema content.
MAX_SCHEMA_CHARS = 100_000


class SchemaProblem(ValueError):
    """A model's schema breaks a publishing rule (size, missing descriptions, bad example)."""


def _convert(node: Any) -> Any:
    """Rewrite one pydantic (2020-12) schema node as draft-04, recursively."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs":
            out["definitions"] = {name: _convert(sub) for name, sub in value.items()}
        elif key == "$ref" and isinstance(value, str):
            out["$ref"] = value.replace("#/$defs/", "#/definitions/")
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            out[bound] = value
            out[key] = True
        elif key in ("properties", "definitions", "patternProperties"):
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        else:
            out[key] = _convert(value)
    if "$ref" in out and len(out) > 1:
        # Draft-04 ignores every keyword beside $ref: keep the annotations through allOf.
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


def model_schema(model: type[EventDetail]) -> dict[str, Any]:
    """The draft-04 JSON Schema of ``model``'s detail, by alias, as EventBridge carries it."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = {
        "$schema": DRAFT4,
        "title": model.__name__,
        "description": " ".join((model.__doc__ or model.__name__).split()),
        "x-amazon-events-source": model.SOURCE,
        "x-amazon-events-detail-type": model.DETAIL_TYPE,
    }
    converted = _convert(raw)
    converted.pop("title", None)
    converted.pop("description", None)
    schema.update(converted)
    return schema


def render(schema: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_filename(model: type[EventDetail]) -> str:
    """``<source>@<DetailType>.json``, the Schema Registry naming convention."""
    return f"{model.SOURCE}@{model.DETAIL_TYPE}.json"


def missing_descriptions(schema: dict[str, Any]) -> list[str]:
    """JSON pointers of properties (nested too) that have no description."""
    missing: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                if not (isinstance(sub, dict) and sub.get("description")):
                    missing.append(f"{path}/properties/{name}")
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}/{index}")

    walk(schema, "#")
    return missing


def check(model: type[EventDetail], schema: dict[str, Any]) -> None:
    """Raise SchemaProblem when ``schema`` may not be published as is."""
    size = len(render(schema))
    if size > MAX_SCHEMA_CHARS:
        raise SchemaProblem(
            f"{model.__name__} schema is {size} characters, over the registry's "
            f"{MAX_SCHEMA_CHARS}; split the event or shorten its descriptions"
        )
    missing = missing_descriptions(schema)
    if missing:
        raise SchemaProblem(
            f"{model.__name__} schema has properties without a description: {missing}; "
            "add description= to those fields"
        )


#: The list of files ``export`` wrote into a directory: the only ones it may ever remove.
MANIFEST = ".meshkit-export.json"


def export(directory: str | Path, models: Iterable[type[EventDetail]] = ()) -> list[Path]:
    """Write one schema per mesh event (AWS events excluded), plus ``models`` (a team's own
    events), into ``directory``.

    A schema this function wrote before (listed in the directory's ``.meshkit-export.json``)
    whose event is gone is removed; a file it did not write is never touched.
    """
    from meshkit.events.catalogue import mesh_events

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    manifest = target / MANIFEST
    previous: set[str] = set()
    if manifest.is_file():
        try:
            previous = set(json.loads(manifest.read_text(encoding="utf-8"))["files"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SchemaProblem(
                f"{manifest} is not meshkit's export list ({exc}); delete it to start over "
                "(nothing is removed then)"
            ) from exc
    chosen: dict[str, type[EventDetail]] = {}
    for model in (*mesh_events(), *models):
        if not model.EXTERNAL:
            chosen.setdefault(model.type_key(), model)
    written: list[Path] = []
    for model in chosen.values():
        schema = model_schema(model)
        check(model, schema)
        path = target / schema_filename(model)
        text = render(schema)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    names = {p.name for p in written}
    for stale in sorted(previous - names):
        path = target / stale
        # Only a schema file of ours, directly in the folder: the list is data, not trusted.
        if "/" not in stale and path.name.endswith(".json") and "@" in stale and path.is_file():
            path.unlink()
    manifest.write_text(json.dumps({"files": sorted(names)}, indent=2) + "\n", encoding="utf-8")
    return written


def models_of(module_name: str) -> list[type[EventDetail]]:
    """The mesh event models a team's module defines or routes: its EventDetail subclasses
    and the models of its EventRouters (``meshkit events export --module``)."""
    import importlib

    from meshkit.events.base import EventDetail
    from meshkit.runtime.router import EventRouter

    module = importlib.import_module(module_name)
    found: dict[str, type[EventDetail]] = {}
    for value in vars(module).values():
        if isinstance(value, EventRouter):
            for model in value.models():
                found.setdefault(model.type_key(), model)
        elif (
            isinstance(value, type)
            and issubclass(value, EventDetail)
            and getattr(value, "SOURCE", None)
            and getattr(value, "DETAIL_TYPE", None)
            and value.__module__ == module.__name__
        ):
            found.setdefault(value.type_key(), value)
    if not found:
        raise SchemaProblem(
            f"module {module_name} defines no event model and no EventRouter; point --module "
            "at the module holding your events or your router"
        )
    return [m for m in found.values() if not m.EXTERNAL]


def _example_for(annotation: Any, metadata: Sequence[Any] = ()) -> Any:
    """An example value for a field type without examples of its own."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        for item in extra:
            examples = getattr(item, "examples", None)
            if isinstance(item, FieldInfo) and examples:
                return examples[0]
        return _example_for(base, [*metadata, *extra])
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _example_model(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        value = _example_for(item)
        return None if value is None else [value]
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            value = _example_for(arg, metadata)
            if value is not None:
                return value
        return None
    if annotation is bool:
        return True
    if annotation is int:
        # The smallest value the bounds allow, but at least 1 (reads better than 0).
        low = 1
        for item in metadata:
            if getattr(item, "ge", None) is not None:
                low = max(low, item.ge)
            if getattr(item, "gt", None) is not None:
                low = max(low, item.gt + 1)
        return low
    return None


def _example_model(model: type[BaseModel]) -> dict[str, Any]:
    example: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if info.examples:
            value = info.examples[0]
        elif not info.is_required():
            continue
        else:
            value = _example_for(info.annotation, info.metadata)
        if value is not None:
            example[key] = value
    return example


def example_detail(model: type[EventDetail]) -> dict[str, Any]:
    """An example detail built from the fields' ``examples``, checked against the model."""
    from pydantic import ValidationError

    example = _example_model(model)
    try:
        instance = model.model_validate(example)
    except ValidationError as exc:
        raise SchemaProblem(
            f"the field examples of {model.__name__} do not make a valid detail: {exc}; "
            "fix the examples= of those fields"
        ) from exc
    detail: dict[str, Any] = json.loads(instance.detail_json())
    return detail


def _type_text(prop: dict[str, Any], definitions: dict[str, Any]) -> str:
    """A short human-readable type for one schema property."""
    if "allOf" in prop and len(prop["allOf"]) == 1:
        return _type_text(
            {**prop["allOf"][0], **{k: v for k, v in prop.items() if k != "allOf"}}, definitions
        )
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in prop:
        parts = [_type_text(p, definitions) for p in prop["anyOf"] if p.get("type") != "null"]
        return " | ".join(parts) or "null"
    if "enum" in prop:
        return " | ".join(json.dumps(v) for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        text = f"list[{_type_text(prop.get('items') or {}, definitions)}]"
        low, high = prop.get("minItems"), prop.get("maxItems")
        if low is not None or high is not None:
            text += f" ({low or 0}..{high if high is not None else ''} items)"
        return text
    if kind == "object" and "additionalProperties" in prop:
        value = prop["additionalProperties"]
        inner = _type_text(value, definitions) if isinstance(value, dict) else "any"
        return f"map[string, {inner}]"
    text = str(kind)
    if prop.get("format"):
        text += f" ({prop['format']})"
    elif prop.get("pattern"):
        text += f" /{prop['pattern']}/"
    elif "minLength" in prop or "maxLength" in prop:
        text += f" ({prop.get('minLength', 0)}..{prop.get('maxLength', '')} chars)"
    if "minimum" in prop or "maximum" in prop:
        text += f" ({prop.get('minimum', '')}..{prop.get('maximum', '')})"
    return text


def _rows(node: dict[str, Any], definitions: dict[str, Any]) -> list[dict[str, str]]:
    required = set(node.get("required", ()))
    return [
        {
            "name": name,
            "type": _type_text(prop, definitions),
            "required": "yes" if name in required else "no",
            "description": str(prop.get("description", "")),
        }
        for name, prop in node.get("properties", {}).items()
    ]


def field_rows(model: type[EventDetail]) -> list[dict[str, str]]:
    """One row per detail field: name (by alias), type, required, description."""
    schema = model_schema(model)
    return _rows(schema, schema.get("definitions", {}))


def nested_rows(model: type[EventDetail]) -> dict[str, list[dict[str, str]]]:
    """Field rows of the nested object types the detail uses, by type name."""
    schema = model_schema(model)
    definitions = schema.get("definitions", {})
    return {name: _rows(node, definitions) for name, node in sorted(definitions.items())}
