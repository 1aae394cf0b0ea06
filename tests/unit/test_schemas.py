"""Published JSON Schemas: fresh, valid draft-04, documented, and agreeing with the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from schema_strategies import from_schema, node_strategy

from meshkit.docgen import render_events_page
from meshkit.events import catalogue
from meshkit.events.schema import (
    DRAFT4,
    MANIFEST,
    MAX_SCHEMA_CHARS,
    example_detail,
    export,
    missing_descriptions,
    model_schema,
    render,
    schema_filename,
)

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail

ROOT = Path(__file__).parents[2]
SCHEMAS = ROOT / "events" / "schemas"
SAMPLES = ROOT / "src" / "meshkit" / "testing" / "events"
MESH = catalogue.mesh_events()


def by_name(name: str) -> type[EventDetail]:
    return next(m for m in catalogue.all_events() if m.__name__ == name)


def test_committed_schemas_are_fresh(tmp_path: Path) -> None:
    written = export(tmp_path)
    fresh = {p.name: p.read_text() for p in written}
    committed = {p.name: p.read_text() for p in SCHEMAS.glob("*@*.json")}
    assert committed == fresh, "events/schemas is stale: run `make schemas` and commit the result"
    listed = json.loads((SCHEMAS / MANIFEST).read_text())["files"]
    assert listed == sorted(fresh), "events/schemas/.meshkit-export.json is stale: make schemas"


def test_event_catalogue_page_is_fresh() -> None:
    page = ROOT / "docs" / "events.md"
    assert page.read_text() == render_events_page(), (
        "docs/events.md is stale: run `make schemas` and commit the result"
    )


def test_one_schema_per_mesh_event_and_none_for_aws_events() -> None:
    names = {p.name for p in SCHEMAS.glob("*@*.json")}
    assert names == {schema_filename(m) for m in MESH}
    assert not any(name.startswith("aws.") for name in names)


@pytest.mark.parametrize("model", MESH, ids=lambda m: m.__name__)
def test_schema_is_publishable_draft4(model: type[EventDetail]) -> None:
    schema = model_schema(model)
    jsonschema.Draft4Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT4
    assert schema["title"] == model.__name__
    assert schema["description"]
    assert len(render(schema)) < MAX_SCHEMA_CHARS
    assert missing_descriptions(schema) == []
    text = json.dumps(schema)
    for keyword in ('"$defs"', '"const"', '"additionalProperties": false', '"prefixItems"'):
        assert keyword not in text
    assert render(schema).endswith("}\n")


def test_conversion_rewrites_2020_12_keywords() -> None:
    from meshkit.events.schema import _convert

    converted = _convert(
        {
            "$defs": {"A": {"const": "x"}},
            "properties": {
                "a": {"$ref": "#/$defs/A", "description": "an A"},
                "n": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 5},
            },
        }
    )
    assert converted == {
        "definitions": {"A": {"enum": ["x"]}},
        "properties": {
            "a": {"allOf": [{"$ref": "#/definitions/A"}], "description": "an A"},
            "n": {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 5,
                "exclusiveMaximum": True,
            },
        },
    }
    jsonschema.Draft4Validator.check_schema(converted)


@pytest.mark.parametrize("model", MESH, ids=lambda m: m.__name__)
def test_example_detail_is_valid_for_model_and_schema(model: type[EventDetail]) -> None:
    example = example_detail(model)
    model.model_validate(example)
    jsonschema.Draft4Validator(model_schema(model)).validate(example)


# AWS service events have no published schema; their samples are checked against the models
# in test_models.py.
MESH_SAMPLES = [
    p for p in sorted(SAMPLES.glob("*.json")) if not by_name(p.name.split(".", 1)[0]).EXTERNAL
]


@pytest.mark.parametrize("path", MESH_SAMPLES, ids=lambda p: p.name)
def test_samples_agree_with_model_and_schema(path: Path) -> None:
    model = by_name(path.name.split(".", 1)[0])
    detail = json.loads(path.read_text())["detail"]
    validator = jsonschema.Draft4Validator(model_schema(model))
    if ".valid." in path.name:
        model.model_validate(detail)
        validator.validate(detail)
    else:
        with pytest.raises(ValidationError):
            model.model_validate(detail)


# Candidates come from the schema, one property widened by near-misses (bounds +-2, case,
# whitespace, one item too few or too many), so the model sees values on both sides of every
# rule the conversion could get wrong. Model-only rules (cross-field checks, stripped
# whitespace, the 256 KB budget) make the model stricter than the schema; the reverse - the
# model accepting what the published schema refuses - must never happen.
@pytest.mark.parametrize("model", MESH, ids=lambda m: m.__name__)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_what_the_model_accepts_the_schema_accepts(
    model: type[EventDetail], data: st.DataObject
) -> None:
    schema = model_schema(model)
    candidate = data.draw(from_schema(schema), label="candidate")
    # one property at a time gets a near-miss, so that about half the candidates still pass
    name = data.draw(st.sampled_from(sorted(schema["properties"])), label="widened")
    candidate[name] = data.draw(node_strategy(schema["properties"][name], schema, widen=True))
    try:
        event = model.model_validate_json(json.dumps(candidate))
    except ValidationError:
        assume(False)
        return
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    # what the model accepted travels on the bus as its serialisation: the schema accepts it
    serialised: Any = json.loads(event.detail_json())
    validator.validate(serialised)
    if serialised == candidate:
        validator.validate(candidate)
