"""Exact acceptance: the grammar's byte automaton accepts a JSON text iff jsonschema says the
instance is valid (texts from json.dumps in several styles, keys in the grammar's order).

Instances come from a strategy built from each schema, from random JSON values and from
mutations of valid instances.
"""

from __future__ import annotations

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
from structgen.jsonschema import JsonSchema

TREE = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 3},
            },
            "required": ["value"],
            "additionalProperties": False,
        }
    },
    "$ref": "#/$defs/node",
}

SCHEMAS = {
    "nested_objects": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "address": {
                "type": "object",
                "properties": {
                    "street": {"type": "string"},
                    "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
                },
                "required": ["zip"],
            },
        },
        "required": ["name"],
    },
    "optional_combinations": {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "boolean"},
            "c": {"type": "null"},
            "d": {"type": "string"},
        },
        "required": ["b"],
        "additionalProperties": False,
    },
    "additional_false": {
        "type": "object",
        "properties": {"a": {"type": "string"}, "é": {"type": "number"}},
        "additionalProperties": False,
    },
    "additional_schema": {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
        "additionalProperties": {"type": "string", "maxLength": 3},
    },
    "pattern_properties": {
        "type": "object",
        "properties": {"x-known": {"type": "integer"}},
        "patternProperties": {"^x-": {"type": "string"}, "[0-9]": {"type": "boolean"}},
        "additionalProperties": {"type": "null"},
    },
    "arrays_bounds": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4},
    "tuple": {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}],
        "items": {"type": "null"},
        "minItems": 2,
        "maxItems": 5,
    },
    "tuple_closed": {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "items": False,
    },
    "enum_mixed": {"enum": ["a", 1, 2.5, None, True, [1, "x"], {"k": [None]}, 'é\n"', 10**20]},
    "const_number": {"const": 1},
    "any_of": {
        "anyOf": [
            {"type": "string", "maxLength": 2},
            {"type": "integer", "minimum": 10},
            {"type": "array", "items": {"type": "string"}},
        ]
    },
    "one_of_discriminated": {
        "oneOf": [
            {
                "type": "object",
                "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}},
                "required": ["kind"],
            },
            {
                "type": "object",
                "properties": {"kind": {"const": "b"}, "y": {"type": "string"}},
                "required": ["kind"],
            },
        ]
    },
    "one_of_kinds": {
        "oneOf": [
            {"type": "number"},
            {"type": "integer"},
            {"required": ["a"], "properties": {"a": {"const": 1}}},
            {"required": ["a"], "properties": {"a": {"const": "x"}}},
        ]
    },
    "all_of": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"a": {"minimum": 3}, "b": {"type": "string"}}},
        ]
    },
    "tree": TREE,
    "int_ranges": {
        "type": "object",
        "properties": {
            "neg": {"type": "integer", "minimum": -1234, "maximum": -17},
            "big": {"type": "integer", "minimum": 0, "maximum": 10**12},
            "excl": {"type": "integer", "exclusiveMinimum": -5, "exclusiveMaximum": 5},
            "mult": {"type": "integer", "multipleOf": 6},
            "nonint": {"not": {"type": "integer"}},
        },
    },
    "number_ranges": {
        "type": "object",
        "properties": {
            "p": {"type": "number", "minimum": -2.5, "maximum": 3.75},
            "q": {"type": "number", "exclusiveMinimum": 0},
        },
    },
    "string_lengths": {
        "type": "object",
        "properties": {
            "s": {"type": "string", "minLength": 2, "maxLength": 4},
            "t": {"type": "string", "pattern": "é+", "maxLength": 3},
            "u": {"type": "string", "pattern": "^a.c$"},
        },
    },
    "formats": {
        "type": "object",
        "properties": {
            f: {"type": "string", "format": f}
            for f in ("date", "date-time", "time", "email", "ipv4", "ipv6")
        },
    },
    "type_list": {"type": ["string", "null", "integer"], "minimum": 5, "maxLength": 1},
    "untyped": {"minimum": 3, "maxLength": 2, "required": ["a"], "maxItems": 1},
    "draft7_items": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"s": {"type": "string"}},
        "type": "array",
        "items": [{"$ref": "#/definitions/s"}, {"type": "integer"}],
        "additionalItems": {"type": "boolean"},
    },
    "not_and_deps": {
        "type": "object",
        "properties": {
            "a": {"not": {"type": "string"}},
            "b": {"type": "integer"},
            "c": {"type": "string"},
        },
        "dependentRequired": {"a": ["b"]},
        "minProperties": 1,
        "maxProperties": 2,
    },
    "property_names": {
        "type": "object",
        "propertyNames": {"maxLength": 2},
        "additionalProperties": {"type": "integer"},
    },
    # complements: not, oneOf with overlapping branches, if/then/else
    "not_required": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
        "not": {"required": ["a", "b"]},
    },
    "not_properties": {
        "properties": {"a": {"type": "integer"}},
        "not": {"properties": {"a": {"minimum": 3}}},
    },
    "not_any_of": {
        "not": {
            "anyOf": [
                {"type": "string", "maxLength": 2},
                {"type": "integer", "minimum": 0},
                {"type": "array", "minItems": 2},
            ]
        }
    },
    "not_numbers_strings": {
        "not": {"minimum": 0, "exclusiveMaximum": 10, "pattern": "^a", "minProperties": 1}
    },
    "not_one_of": {"type": "number", "not": {"oneOf": [{"type": "integer"}, {"minimum": 2}]}},
    "one_of_overlapping_required": {
        "type": "object",
        "properties": {
            "radius": {"type": "number"},
            "length": {"type": "number"},
            "width": {"type": "number"},
        },
        "oneOf": [{"required": ["radius"]}, {"required": ["length", "width"]}],
    },
    "one_of_overlapping_numbers": {
        "oneOf": [{"type": "integer", "minimum": 0}, {"type": "number", "maximum": 5}]
    },
    "one_of_overlapping_strings": {
        "type": "string",
        "oneOf": [{"pattern": "^[a-c]+$"}, {"maxLength": 2}],
    },
    "if_then_else": {
        "type": "object",
        "properties": {
            "kind": {"enum": ["a", "b"]},
            "x": {"type": "integer"},
            "y": {"type": "string"},
        },
        "if": {"properties": {"kind": {"const": "a"}}, "required": ["kind"]},
        "then": {"required": ["x"]},
        "else": {"required": ["y"]},
    },
    "if_type": {
        "if": {"type": "string"},
        "then": {"maxLength": 3},
        "else": {"type": "integer", "minimum": 0},
    },
}

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)

_AUTOMATA: dict = {}


def _automaton(name: str):
    a = _AUTOMATA.get(name)
    if a is None:
        a = _AUTOMATA[name] = Automaton(JsonSchema(SCHEMAS[name], spelling="any").to_grammar())
    return a


def _compare(name: str, value) -> None:
    schema = SCHEMAS[name]
    a = _automaton(name)
    value = order_like(schema, value)
    expected = validator(schema).is_valid(value)
    for text in texts(value):
        got = a.matches(text.encode())
        exp = expected and in_convention_text(text)
        assert got == exp, (
            f"{name}: grammar {'accepts' if got else 'rejects'} {text!r} (valid={expected})"
        )


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_drawn_instances(name):
    schema = SCHEMAS[name]
    valid_seen = []

    # derandomized: the check below (that some drawn instance is valid) must not depend
    # on the luck of one run; the mutation test keeps exploring with fresh seeds
    @settings(SETTINGS, derandomize=True)
    @given(instances(schema))
    def run(value):
        _compare(name, value)
        valid_seen.append(validator(schema).is_valid(order_like(schema, value)))

    run()
    assert any(valid_seen), f"{name}: the strategy drew no valid instance"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_mutations_and_random_values(name):
    schema = SCHEMAS[name]

    @SETTINGS
    @given(st.data())
    def run(data):
        if data.draw(st.booleans()):
            value = data.draw(json_values)
        else:
            value = data.draw(mutations(data.draw(instances(schema))))
        _compare(name, value)

    run()


def test_optional_properties_all_combinations():
    name = "optional_combinations"
    import itertools

    vals = {"a": 7, "b": True, "c": None, "d": "x"}
    for mask in itertools.product([0, 1], repeat=4):
        inst = {k: vals[k] for k, m in zip("abcd", mask, strict=False) if m}
        _compare(name, inst)


def test_escaped_keys_are_the_declared_keys():
    a = _automaton("additional_false")
    assert a.matches(b'{"\\u0061": "x"}')  # "a"
    assert a.matches(b'{"\\u00e9": 1.5}')  # "\u00e9"
    assert a.matches('{"é": 1.5}'.encode())
    assert not a.matches(b'{"\\u0061": 1}')
    assert not a.matches(b'{"b": 1}')
    b = _automaton("additional_schema")
    # "\u0069\u0064" is "id": an integer, not an additional (string) property
    assert b.matches(b'{"\\u0069\\u0064": 5}')
    assert not b.matches(b'{"\\u0069\\u0064": "abc"}')
    assert b.matches(b'{"idx": "abc"}')


def test_whitespace_bound():
    a = _automaton("arrays_bounds")
    assert a.matches(b"[1, 2]")
    assert a.matches(b" [\n" + b" " * 19 + b"1,2]\n")
    assert not a.matches(b"[" + b" " * 21 + b"1,2]")
    c = Automaton(
        JsonSchema(SCHEMAS["arrays_bounds"], whitespace="compact", spelling="any").to_grammar()
    )
    assert c.matches(b"[1,2]")
    assert not c.matches(b"[1, 2]")


def test_numbers_integral_and_values():
    a = Automaton(JsonSchema({"type": "integer"}, spelling="any").to_grammar())
    for t in ["0", "-0", "12", "1.0", "-3.000", "1e+16", "1.5e1", "1.25E2", "2e0"]:
        assert a.matches(t.encode()), t
    for t in ["1.5", "01", "1e-1", "1.", ".5", "+1", "1.25e1", "-", "1e400x"]:
        assert not a.matches(t.encode()), t
    c = Automaton(JsonSchema({"const": 1}, spelling="any").to_grammar())
    for t in ["1", "1.0", "1.000", "1e0", "1E+00", "1.0e-0"]:
        assert c.matches(t.encode()), t
    for t in ["1.5", "10e-1", "true", "-1"]:
        assert not c.matches(t.encode()), t
    n = Automaton(JsonSchema({"type": "number"}, spelling="any").to_grammar())
    for t in ["0.5e1", "10E-1", "-0.0", "123.456e+78"]:
        assert n.matches(t.encode()), t


def test_string_escapes_and_surrogates():
    a = Automaton(
        JsonSchema({"type": "string", "minLength": 1, "maxLength": 1}, spelling="any").to_grammar()
    )
    for t in ['"a"', '"\\n"', '"\\u00E9"', '"\\ud83d\\ude00"', '"😀"', '"\\/"']:
        assert a.matches(t.encode()), t
    for t in ['"\\ud83d"', '"\\ude00"', '"ab"', '""', '"\\u00e"', '"\x01"']:
        assert not a.matches(t.encode()), t


def test_pattern_search_semantics():
    a = Automaton(JsonSchema({"type": "string", "pattern": "abc"}, spelling="any").to_grammar())
    assert a.matches(b'"xxabcyy"')
    assert a.matches(b'"\\u0061bc"')
    assert not a.matches(b'"ab"')
    b = Automaton(JsonSchema({"type": "string", "pattern": "^ab$"}, spelling="any").to_grammar())
    assert b.matches(b'"ab"')
    assert b.matches(b'"ab\\n"')  # Python's $ matches before a final newline
    assert not b.matches(b'"xab"')
