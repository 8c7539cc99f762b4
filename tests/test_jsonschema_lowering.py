"""Lowering unit tests: the API, the grammar's shape, refusals (keyword and pointer named),
non-strict warnings, unsatisfiable schemas, and the number / string / format building blocks.
"""

from __future__ import annotations

import json
import re
import warnings

import pytest

import structgen
from structgen import ir
from structgen.automata import Automaton, accepts
from structgen.errors import SpecError, UnsupportedSchemaError
from structgen.jsonschema import JsonSchema, SchemaApproximationWarning
from structgen.jsonschema import formats as F
from structgen.jsonschema import numbers as N
from structgen.jsonschema import strings as S
from structgen.jsonschema.lower import search_regex, split_alternatives


def _matches(schema, text: str, **kw) -> bool:
    kw.setdefault("spelling", "any")
    return Automaton(JsonSchema(schema, **kw).to_grammar()).matches(text.encode())


# --------------------------------------------------------------------------- API


def test_api_equality_hash_and_json_string():
    a = JsonSchema({"type": "object", "properties": {"a": {"type": "integer"}}})
    b = JsonSchema('{"type": "object", "properties": {"a": {"type": "integer"}}}')
    assert a == b and hash(a) == hash(b)
    assert a != JsonSchema(
        {"type": "object", "properties": {"a": {"type": "integer"}}}, whitespace="compact"
    )
    assert a != JsonSchema(
        {"type": "object", "properties": {"a": {"type": "integer"}}}, strict=False
    )
    assert JsonSchema({"const": 1}) != JsonSchema({"const": 1.0})
    assert JsonSchema({"const": 1}) != JsonSchema({"const": True})
    assert "JsonSchema(" in repr(a)
    assert a.to_grammar() is a.to_grammar()
    with pytest.raises(SpecError):
        JsonSchema("{not json")
    with pytest.raises(SpecError):
        JsonSchema([1, 2])
    with pytest.raises(ValueError):
        JsonSchema({}, whitespace="pretty")


def test_compile_through_structgen(tokenizers):
    tok = tokenizers["smollm2"]
    c = structgen.compile(
        JsonSchema({"type": "boolean"}),
        tok,
        vocab_size=structgen.assets.MODEL_VOCAB_SIZE["smollm2"],
    )
    m = c.matcher()
    from structgen.testing import token_ids_for_text

    for t in token_ids_for_text(tok, "true"):
        assert m.advance(t)
    assert m.is_accepting()


def test_grammar_shape_one_terminal_per_scalar():
    g = JsonSchema(
        {
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 5}, "n": {"type": "integer"}},
            "required": ["name"],
        },
        spelling="any",
    ).to_grammar()
    text = g.to_lark()
    assert "KEY_NAME" in g.terminals and "KEY_N" in g.terminals
    # a key terminal holds its quotes and the colon with the bounded whitespace around it
    assert accepts(g.terminals["KEY_NAME"], b'"name" : ')
    assert accepts(g.terminals["KEY_NAME"], b'"\\u006eame":')
    assert accepts(g.terminals["COMMA"], b" , ")
    assert not accepts(g.terminals["COMMA"], b" " * 21 + b",")
    # each value is one terminal, reached through a rule
    strings = [n for n, e in g.terminals.items() if n.startswith("STRING")]
    assert strings and all(accepts(g.terminals[n], b'"abc"') for n in strings)
    assert "start" in g.rules and text.startswith("start:")


def test_recursion_becomes_rules():
    tree = {
        "$defs": {
            "t": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/t"}}},
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/t",
    }
    g = JsonSchema(tree).to_grammar()
    assert len(g.rules) < 20
    a = Automaton(g)
    deep = {"kids": [{"kids": [{"kids": []}, {}]}]}
    assert a.matches(json.dumps(deep).encode())
    assert not a.matches(json.dumps({"kids": [{"x": 1}]}).encode())


def test_counts_use_repeat_not_unrolling():
    g = JsonSchema(
        {"type": "array", "items": {"type": "integer"}, "minItems": 500, "maxItems": 1000}
    ).to_grammar()
    assert "~499..999" in g.to_lark() and len(g.rules) < 6
    a = Automaton(g)
    assert a.matches(json.dumps(list(range(500))).encode())
    assert a.matches(json.dumps(list(range(1000))).encode())
    assert not a.matches(json.dumps(list(range(499))).encode())
    assert not a.matches(json.dumps(list(range(1001))).encode())
    s = JsonSchema({"type": "string", "minLength": 1000, "maxLength": 5000}).to_grammar()
    assert len(s.to_lark()) < 2000 and "{1000,5000}" in s.to_lark()


# --------------------------------------------------------------------------- refusals

REFUSED = [
    (
        {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True}}},
        "uniqueItems",
        "/properties/tags",
    ),
    ({"type": "array", "contains": {"additionalProperties": {"type": "integer"}}}, "contains", "/"),
    (
        {
            "if": {"type": "object", "additionalProperties": {"type": "string"}},
            "then": {"maxProperties": 3},
        },
        "if",
        "/",
    ),
    (
        {"$defs": {"x": {"unevaluatedProperties": False}}, "$ref": "#/$defs/x"},
        "unevaluatedProperties",
        "/$defs/x",
    ),
    ({"items": {"unevaluatedItems": False}}, "unevaluatedItems", "/items"),
    ({"$dynamicRef": "#meta"}, "$dynamicRef", "/"),
    ({"$recursiveRef": "#"}, "$recursiveRef", "/"),
    (
        {"properties": {"a": {"not": {"type": "array", "uniqueItems": True}}}},
        "not",
        "/properties/a",
    ),
    ({"not": {"propertyNames": {"maxLength": 3}}}, "not", "/"),
    ({"not": {"enum": [[1], 2]}}, "not", "/"),
    ({"not": {"multipleOf": 3}}, "not", "/"),
    (
        {
            "oneOf": [
                {"propertyNames": {"maxLength": 2}},
                {"properties": {"a": {"type": "integer"}}},
            ]
        },
        "oneOf",
        "/",
    ),
    ({"type": "number", "multipleOf": 0.05}, "multipleOf", "/"),
    ({"type": "integer", "multipleOf": 7}, "multipleOf", "/"),
    ({"properties": {"id": {"type": "string", "format": "regex"}}}, "format", "/properties/id"),
    (
        {"definitions": {"u": {"format": "uri-template"}}, "items": {"$ref": "#/definitions/u"}},
        "format",
        "/definitions/u",
    ),
    ({"format": "idn-hostname"}, "format", "/"),
    ({"properties": {"p": {"pattern": "(?=a)b"}}}, "pattern", "/properties/p"),
    ({"pattern": "a(^b)"}, "pattern", "/"),
    ({"properties": {"r": {"$ref": "http://example.com/other.json"}}}, "$ref", "/properties/r"),
]


@pytest.mark.parametrize("schema,keyword,pointer", REFUSED, ids=[f"{k}@{p}" for _, k, p in REFUSED])
def test_refusal_names_keyword_and_pointer(schema, keyword, pointer):
    with pytest.raises(UnsupportedSchemaError) as info:
        JsonSchema(schema).to_grammar()
    msg = str(info.value)
    assert msg.startswith(f"{keyword} at {pointer} ") and "not supported" in msg, msg
    assert info.value.keyword == keyword and info.value.pointer == pointer


@pytest.mark.parametrize(
    "schema,keyword,pointer", REFUSED[:-1], ids=[f"{k}@{p}" for _, k, p in REFUSED[:-1]]
)
def test_non_strict_warns_and_compiles(schema, keyword, pointer):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = JsonSchema(schema, strict=False).to_grammar()
    assert isinstance(g, ir.Grammar)
    msgs = [str(w.message) for w in caught if issubclass(w.category, SchemaApproximationWarning)]
    assert any(m.startswith(f"{keyword} at {pointer} ") for m in msgs), msgs


def test_non_strict_uuid_generates_canonical_form():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = Automaton(JsonSchema({"format": "uuid", "type": "string"}, strict=False).to_grammar())
    assert a.matches(b'"123e4567-e89b-12d3-a456-426614174000"')
    assert not a.matches(b'"hello"')


@pytest.mark.parametrize(
    "schema",
    [
        False,
        {"not": {}},
        {"type": "string", "minLength": 5, "maxLength": 2},
        {"type": "integer", "minimum": 0.2, "maximum": 0.8},
        {"enum": []},
        {"type": "string", "enum": [1, 2]},
        {"allOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": "object", "properties": {"a": False}, "required": ["a"]},
        {"type": "object", "required": ["a"], "additionalProperties": False},
        {"type": "string", "pattern": "^a+$", "maxLength": 0},
        {"type": "object", "properties": {"n": {"$ref": "#"}}, "required": ["n"]},
        {"type": "array", "minItems": 3, "prefixItems": [{}, {}], "items": False},
    ],
)
def test_unsatisfiable_schemas_raise(schema):
    with pytest.raises(UnsupportedSchemaError, match="unsatisfiable"):
        JsonSchema(schema).to_grammar()


def test_annotations_and_unknown_keywords_are_ignored():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.com/s.json",
        "title": "t",
        "description": "d",
        "default": 1,
        "examples": [1],
        "$comment": "c",
        "deprecated": True,
        "readOnly": True,
        "writeOnly": False,
        "x-vendor": {"anything": True},
        "format": "int32",
        "type": "integer",
        "minContains": 2,
        "then": {"type": "string"},
        "uniqueItems": False,
    }
    assert _matches(schema, "42")
    assert not _matches(schema, '"x"')


# --------------------------------------------------------------------------- semantics


def test_refs_defs_definitions_anchors_and_ids():
    schema = {
        "$id": "https://example.com/root.json",
        "definitions": {"a": {"type": "integer"}},
        "$defs": {
            "b": {"$anchor": "bee", "type": "string"},
            "c": {"$id": "c.json", "type": "boolean"},
        },
        "type": "array",
        "prefixItems": [
            {"$ref": "#/definitions/a"},
            {"$ref": "#bee"},
            {"$ref": "c.json"},
            {"$ref": "https://example.com/root.json#/definitions/a"},
            {"$ref": "#/%24defs/b"},
        ],
        "items": False,
    }
    assert _matches(schema, '[1, "x", true, 2, "y"]')
    assert not _matches(schema, '[1, "x", 1]')


def test_draft7_ref_siblings_are_ignored_but_2020_applies_them():
    d7 = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"s": {"type": "string"}},
        "properties": {"a": {"$ref": "#/definitions/s", "maxLength": 1}},
    }
    d2020 = {
        "$defs": {"s": {"type": "string"}},
        "properties": {"a": {"$ref": "#/$defs/s", "maxLength": 1}},
    }
    assert _matches(d7, '{"a": "long"}')
    assert not _matches(d2020, '{"a": "long"}')


def test_draft4_exclusive_booleans():
    s = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "integer",
        "minimum": 1,
        "exclusiveMinimum": True,
        "maximum": 3,
        "exclusiveMaximum": True,
    }
    assert _matches(s, "2")
    assert not _matches(s, "1") and not _matches(s, "3")


def test_one_of_disjoint_by_discriminator_and_required_and_range():
    by_required = {
        "oneOf": [
            {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "required": ["a"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {"b": {"type": "integer"}},
                "required": ["b"],
                "additionalProperties": False,
            },
        ]
    }
    assert _matches(by_required, '{"a": 1}') and _matches(by_required, '{"b": 1}')
    assert not _matches(by_required, '{"a": 1, "b": 2}')
    by_range = {"oneOf": [{"type": "integer", "maximum": 0}, {"type": "integer", "minimum": 1}]}
    assert _matches(by_range, "0") and _matches(by_range, "5")
    by_enum = {"oneOf": [{"enum": ["a", "b"]}, {"type": "string", "maxLength": 0}]}
    assert _matches(by_enum, '"a"') and _matches(by_enum, '""') and not _matches(by_enum, '"c"')


def test_one_of_excludes_kinds_every_branch_accepts():
    s = {"oneOf": [{"type": "integer"}, {"type": "number"}]}  # exactly one: non-integers
    assert _matches(s, "1.5") and not _matches(s, "1") and not _matches(s, "1.0")
    t = {
        "oneOf": [
            {"required": ["a"], "properties": {"a": {"const": 1}}},
            {"required": ["a"], "properties": {"a": {"const": 2}}},
        ]
    }
    assert _matches(t, '{"a": 1}') and _matches(t, '{"a": 2.0}')
    assert not _matches(t, '"x"') and not _matches(t, "3") and not _matches(t, '{"a": 3}')


def test_enum_is_filtered_by_siblings():
    s = {"type": "string", "maxLength": 2, "enum": ["a", "abc", 1, "xy"]}
    assert _matches(s, '"a"') and _matches(s, '"xy"')
    assert not _matches(s, '"abc"') and not _matches(s, "1")


def test_pattern_properties_and_property_names():
    s = {
        "type": "object",
        "patternProperties": {"^n_": {"type": "integer"}},
        "additionalProperties": False,
        "propertyNames": {"maxLength": 3},
    }
    assert _matches(s, '{"n_a": 1}')
    assert not _matches(s, '{"n_a": "x"}')
    assert not _matches(s, '{"n_ab": 1}')
    assert not _matches(s, '{"b": 1}')


def test_min_max_properties_and_dependencies():
    s = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 2,
        "dependentRequired": {"a": ["b"]},
    }
    assert not _matches(s, "{}")
    assert (
        _matches(s, '{"b": 1}')
        and _matches(s, '{"a": 1, "b": 2}')
        and _matches(s, '{"x": 1, "y": 2}')
    )
    assert not _matches(s, '{"a": 1}')
    assert not _matches(s, '{"x": 1, "y": 2, "z": 3}')
    d = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "dependencies": {"a": {"properties": {"b": {"type": "string"}}}},
    }
    # "a" is only required (through the dependency): it comes after the properties
    assert (
        _matches(d, '{"b": "s", "a": 1}')
        and _matches(d, '{"b": 1}')
        and not _matches(d, '{"b": 1, "a": 1}')
    )


# --------------------------------------------------------------------------- building blocks


def _matcher(e):
    from structgen.automata import terms
    from structgen.automata.lower import lower_regex

    t = lower_regex(e)
    return lambda text: terms.matches(t, text.encode())


def test_number_ranges_against_decimal_values():
    from decimal import Decimal

    cases = [(-17, 250), (-(10**12), -3), (0, 10**12), (5, 5), (-1, 0)]
    texts = [str(i) for i in range(-300, 300)] + [
        "1e3",
        "2.5e2",
        "-1.7e1",
        "1.0",
        "-0",
        "250.0",
        "250.5",
        "1e12",
        "1.000000000001e12",
    ]
    for lo, hi in cases:
        f = _matcher(N.number_text(minimum=lo, maximum=hi, integer=True))
        for t in texts:
            v = Decimal(t)
            want = lo <= v <= hi and v == v.to_integral_value()
            assert f(t) == want, (lo, hi, t)


def test_multiple_of():
    for k in (2, 3, 5, 6, 10, 12, 15, 25, 100):
        f = _matcher(N.multiple_of(k))
        for v in range(0, 400):
            assert f(str(v)) == (v % k == 0), (k, v)
        assert f(f"{k * 7}.0")
        assert f("1.2e" + str(len(str(k)) + 2)) and not f("1.3e1")


def test_string_spelling_helpers():
    e = S.quoted(S.spell(search_regex("^[é-ë]{2}$")))
    assert accepts(e, '"éê"'.encode())
    assert accepts(e, b'"\\u00e9\\u00EA"')
    assert accepts(e, b'"\\u00e9\\u00ea\\n"')  # $ before a final newline
    assert not accepts(e, b'"\\u00e9"')
    assert split_alternatives("^a|b$") == ["^a", "b$"]
    assert split_alternatives("(?i)(^x$)") == ["(?i)^x$"]
    assert split_alternatives("[|]") is None


def test_format_regexes_are_python_regexes():
    for _name, rx in {**F.EXACT, **F.APPROXIMATE}.items():
        re.compile(rx)
        structgen.Regex(rx)
