"""oneOf / not / if with overlapping branches: the grammar accepts a text iff jsonschema says
the instance is valid.

Instances come from each branch, from combinations of two branches (objects merged, arrays
concatenated, a value of one branch under a key the other requires), from random JSON values
and from mutations; each is judged by ``jsonschema`` against the whole schema and compared
with the any-spelling grammar's byte automaton. The canonical grammar (the generation
default) must never accept an invalid instance.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jsonschema_helpers import (
    in_convention_text,
    instances,
    json_values,
    mutations,
    order_like,
    texts,
    validator,
)

from structgen.automata import Automaton
from structgen.errors import UnsupportedSchemaError
from structgen.jsonschema import JsonSchema

D4 = "http://json-schema.org/draft-04/schema#"

SCHEMAS = {
    # open objects with different required keys are not disjoint (the reported case)
    "required_keys_open": {
        "oneOf": [
            {"properties": {"bar": {"type": "integer"}}, "required": ["bar"]},
            {"properties": {"foo": {"type": "string"}}, "required": ["foo"]},
        ]
    },
    "required_keys_one_closed": {
        "oneOf": [
            {
                "properties": {"a": {"type": "integer"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            {"properties": {"b": {"type": "string"}}, "required": ["b"]},
        ]
    },
    "same_key_integer_number": {
        "oneOf": [
            {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"a": {"type": "number"}}, "required": ["a"]},
        ]
    },
    "optional_key_values": {
        "oneOf": [
            {"properties": {"kind": {"const": "a"}}, "required": ["kind"]},
            {"properties": {"kind": {"const": "b"}, "n": {"type": "integer"}}},
        ]
    },
    "pattern_properties": {
        "oneOf": [
            {"patternProperties": {"^x": {"type": "integer"}}, "required": ["xa"]},
            {"properties": {"xa": {"type": "string"}, "y": {"type": "string"}}, "required": ["xa"]},
        ]
    },
    "additional_schema": {
        "oneOf": [
            {
                "properties": {"a": {}},
                "additionalProperties": {"type": "integer"},
                "required": ["b"],
            },
            {"properties": {"b": {"type": "string"}}, "required": ["b"]},
        ]
    },
    "object_vs_required": {"oneOf": [{"type": "object"}, {"required": ["a"]}]},
    "integer_number": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 5}]},
    "number_ranges": {"oneOf": [{"minimum": 0}, {"maximum": 0}]},
    "enum_vs_type": {"oneOf": [{"enum": [1, "a", 2.5, None, 3.0]}, {"type": "number"}]},
    "enum_vs_string": {"oneOf": [{"enum": ["a", "bb", 7]}, {"type": "string", "maxLength": 1}]},
    "format_vs_length": {"oneOf": [{"format": "date"}, {"type": "string", "maxLength": 10}]},
    "not_string_vs_format": {"oneOf": [{"not": {"type": "string"}}, {"format": "ipv4"}]},
    "arrays_open_items": {
        "oneOf": [
            {"type": "array", "prefixItems": [{"type": "integer"}]},
            {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}]},
        ]
    },
    "arrays_lengths": {
        "oneOf": [
            {"type": "array", "minItems": 2},
            {"type": "array", "maxItems": 3, "prefixItems": [{"type": "boolean"}]},
        ]
    },
    "nested_any_of": {
        "oneOf": [
            {"anyOf": [{"type": "string"}, {"properties": {"a": {"type": "null"}}}]},
            {"properties": {"a": {"type": ["null", "boolean"]}}, "required": ["a"]},
        ]
    },
    "three_branches": {
        "oneOf": [
            {"type": "integer", "maximum": 10},
            {"type": "number", "minimum": 5},
            {"enum": [7, 20, "x"]},
        ]
    },
    "not_required": {"not": {"properties": {"a": {"type": "string"}}, "required": ["a"]}},
    "if_then_else_open": {
        "if": {"properties": {"t": {"const": 1}}, "required": ["t"]},
        "then": {"required": ["one"]},
        "else": {"properties": {"one": {"type": "string"}}},
    },
    "counts": {
        "oneOf": [
            {"type": "object", "minProperties": 2},
            {"type": "object", "maxProperties": 2, "required": ["a"]},
        ]
    },
    "dependent_required": {
        "oneOf": [
            {"dependentRequired": {"a": ["b"]}},
            {"properties": {"a": {"type": "string"}}, "required": ["a"]},
        ]
    },
    "one_of_inside_not": {
        "not": {"oneOf": [{"type": "integer"}, {"minimum": 3}]},
    },
    "all_of_with_one_of": {
        "allOf": [
            {"properties": {"a": {"type": "integer"}}},
            {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        ]
    },
    "strings_lengths_patterns": {
        "oneOf": [
            {"type": "string", "pattern": "^a"},
            {"type": "string", "maxLength": 2},
            {"const": "b"},
        ]
    },
    "draft4_integer_string": {"$schema": D4, "oneOf": [{"type": "integer"}, {"type": "string"}]},
}

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)

_CACHE: dict = {}


def _automata(name: str):
    a = _CACHE.get(name)
    if a is None:
        schema = SCHEMAS[name]
        a = _CACHE[name] = (
            Automaton(JsonSchema(schema, spelling="any").to_grammar()),
            Automaton(JsonSchema(schema, whitespace="compact").to_grammar()),
        )
    return a


def _branches(schema) -> list:
    out = []
    for kw in ("oneOf", "anyOf"):
        out += schema.get(kw, [])
    for kw in ("if", "then", "else", "not"):
        if kw in schema:
            out.append(schema[kw])
    return out or [schema]


def _combine(x, y):
    """A value that may satisfy both branches: merged objects, concatenated arrays."""
    if isinstance(x, dict) and isinstance(y, dict):
        return {**x, **y}
    if isinstance(x, list) and isinstance(y, list):
        return x + y
    return y


@st.composite
def candidates(draw, schema):
    branches = _branches(schema)
    how = draw(st.sampled_from(["branch", "combine", "combine", "random", "mutate"]))
    if how == "random":
        return draw(json_values)
    x = draw(instances(draw(st.sampled_from(branches)), schema))
    if how == "branch":
        return x
    if how == "mutate":
        return draw(mutations(x))
    y = draw(instances(draw(st.sampled_from(branches)), schema))
    return _combine(x, y)


def _compare(name: str, value) -> None:
    schema = SCHEMAS[name]
    any_a, canonical_a = _automata(name)
    value = order_like(schema, value)
    expected = validator(schema).is_valid(value)
    for text in texts(value):
        got = any_a.matches(text.encode())
        exp = expected and in_convention_text(text)
        assert got == exp, (
            f"{name}: grammar {'accepts' if got else 'rejects'} {text!r} (valid={expected})"
        )
    canonical = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if canonical_a.matches(canonical.encode()):
        assert expected, f"{name}: the canonical grammar accepts the invalid {canonical!r}"


def test_reported_instance_is_refused():
    any_a, canonical_a = _automata("required_keys_open")
    assert not any_a.matches(b'{"foo": "baz", "bar": 2}')
    assert not canonical_a.matches(b'{"bar":2,"foo":"baz"}')
    assert any_a.matches(b'{"foo": "baz", "bar": 2.5}')
    assert any_a.matches(b'{"bar": 2}')


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_overlapping_branches_match_jsonschema(name):
    schema = SCHEMAS[name]

    @SETTINGS
    @given(candidates(schema))
    def run(value):
        _compare(name, value)

    run()


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"multipleOf": 2}, {"multipleOf": 3}]},
        {
            "oneOf": [
                {"type": "array", "prefixItems": [{"type": "integer"}]},
                {"type": "array", "items": {"type": "string"}},
            ]
        },
        {
            "oneOf": [
                {"enum": [{"a": 1}, {"a": 1, "b": 2}, [1], "x"]},
                {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
            ]
        },
        # draft-04: 1.0 is a number but not an integer, which the kinds do not tell apart
        {"$schema": D4, "oneOf": [{"type": "integer"}, {"type": "number"}]},
        {"$schema": D4, "type": "number", "not": {"type": "integer"}},
        {
            "oneOf": [
                {"patternProperties": {"^x": {"type": "integer"}}, "required": ["xa"]},
                {"properties": {"xa": {"type": "number"}}, "required": ["xa"]},
            ]
        },
    ],
)
def test_overlap_whose_complement_cannot_be_written_is_refused(schema):
    with pytest.raises(UnsupportedSchemaError, match=r"at /(oneOf|not)"):
        JsonSchema(schema, spelling="any").to_grammar()
