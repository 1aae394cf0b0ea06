"""Hypothesis strategies for the draft-04 subset meshkit's schemas use.

hypothesis-jsonschema 0.23 breaks on objects with current Hypothesis (``'many' object has no
attribute 'more'``), so the tests generate instances from the schemas with this small walker.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from hypothesis import strategies as st

#: Keep generated collections small: the property is about shapes, not volume.
MAX_ITEMS = 4
MAX_TEXT = 40


def from_schema(schema: dict[str, Any], *, widen: bool = False) -> st.SearchStrategy[Any]:
    """Instances of ``schema``; with ``widen``, also near-misses around every bound and
    pattern (so a property can find values the model accepts and the schema refuses)."""
    return _strategy(schema, schema, widen)


def node_strategy(
    node: dict[str, Any], root: dict[str, Any], *, widen: bool = False
) -> st.SearchStrategy[Any]:
    """Instances of one node of ``root`` (e.g. a property), resolving its references."""
    return _strategy(node, root, widen)


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = root["definitions"][name]
    return node


def _strategy(node: dict[str, Any], root: dict[str, Any], widen: bool) -> st.SearchStrategy[Any]:
    node = _resolve(node, root)
    if "allOf" in node:
        (only,) = node["allOf"]
        return _strategy(only, root, widen)
    if "anyOf" in node:
        return st.one_of([_strategy(option, root, widen) for option in node["anyOf"]])
    if "enum" in node:
        values = st.sampled_from(node["enum"])
        return st.one_of(values, values.map(str).map(str.lower)) if widen else values
    kind = node.get("type")
    if kind == "string":
        return _string(node, widen)
    if kind == "integer":
        low, high = node.get("minimum"), node.get("maximum")
        if widen:
            low = None if low is None else low - 2
            high = None if high is None else high + 2
        return st.integers(low, high)
    if kind == "number":
        return st.floats(node.get("minimum"), node.get("maximum"), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        low = node.get("minItems", 0)
        high = max(low, min(node.get("maxItems", MAX_ITEMS), MAX_ITEMS))
        if widen:
            low, high = max(0, low - 1), high + 1
        return st.lists(_strategy(node.get("items", {}), root, widen), min_size=low, max_size=high)
    if kind == "object" or "properties" in node:
        return _object(node, root, widen)
    raise NotImplementedError(f"no strategy for schema node {node}")


def _string(node: dict[str, Any], widen: bool) -> st.SearchStrategy[str]:
    low, high = node.get("minLength", 0), node.get("maxLength", MAX_TEXT)
    if node.get("format") == "date-time":
        valid = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
        near = st.datetimes().map(lambda d: d.isoformat())  # no offset: a naive time
    elif "pattern" in node:
        valid = st.from_regex(node["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) <= high
        )
        near = st.one_of(
            valid.map(str.upper), valid.map(lambda s: f" {s} "), valid.map(lambda s: s + "\n")
        )
    else:
        valid = st.text(min_size=low, max_size=max(low, min(high, MAX_TEXT)))
        near = st.one_of(valid.map(lambda s: f"  {s}  "), st.text(max_size=high + 2))
    return st.one_of(valid, near) if widen else valid


def _object(
    node: dict[str, Any], root: dict[str, Any], widen: bool
) -> st.SearchStrategy[dict[str, Any]]:
    properties = node.get("properties", {})
    required = set(node.get("required", ()))
    if not properties and isinstance(node.get("additionalProperties"), dict):
        return st.dictionaries(
            st.text(min_size=1, max_size=12),
            _strategy(node["additionalProperties"], root, widen),
            max_size=MAX_ITEMS,
        )
    return st.fixed_dictionaries(
        {name: _strategy(sub, root, widen) for name, sub in properties.items() if name in required},
        optional={
            name: _strategy(sub, root, widen)
            for name, sub in properties.items()
            if name not in required
        },
    )
