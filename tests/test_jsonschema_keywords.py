"""Keywords enforced through complements and finite domains, with their own oracles:

* ``format`` s enforced by their RFC grammar (uri, uri-reference, iri, iri-reference,
  hostname, duration, uuid): samples from the RFCs, and the ``rfc3987`` / ``fqdn`` packages
  as oracles (the checkers ``jsonschema[format]`` uses, in the dev extra);
* decimal ``multipleOf`` (``0.01``...), compared with exact decimal arithmetic (the JSON
  Schema definition; ``jsonschema`` divides binary floats, so ``0.07`` fails there);
* ``uniqueItems`` over small finite item sets, exhaustively against ``jsonschema``;
* ``not`` / overlapping ``oneOf`` / ``if``-``then``-``else`` on hand-picked cases (the
  generated comparisons are in test_jsonschema_exact.py).
"""

from __future__ import annotations

import itertools
import json
import re
from decimal import Decimal

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structgen.automata import Automaton
from structgen.errors import UnsupportedSchemaError
from structgen.jsonschema import JsonSchema
from structgen.jsonschema import formats as F


def _automaton(schema):
    return Automaton(JsonSchema(schema, spelling="any").to_grammar())


def _accepts_string(a, s: str) -> bool:
    return a.matches(json.dumps(s).encode())


# --------------------------------------------------------------------------- formats

FORMAT_CASES = {
    "uri": (
        [
            "http://example.com/a/b?c=d#e",
            "urn:isbn:0451450523",
            "mailto:john@example.com",
            "ftp://user:pw@[2001:db8::7]:21/x",
            "http://[v7.abc]/",
            "a:",
            "news:comp.infosystems.www.servers.unix",
            "http://1.2.3.4:/%20",
        ],
        [
            "",
            "//example.com",
            "example.com/path",
            "http://a b",
            "http://%zz",
            "1http://x",
            "http://é.com",
            "http://[::1",
            "http://example.com\n",
        ],
    ),
    "uri-reference": (
        ["", "/a/b", "a/b", "//host/x", "?q", "#f", "http://x.y/z", "./this:that"],
        ["a b", "%4", "\\\\server", "http://[1::2::3]/", ":x"],
    ),
    "iri": (
        ["http://é.example/ü?ß=∂#frag", "urn:x:\u00e9"],
        ["é:x", "http://a b", "//é"],
    ),
    "iri-reference": (["ü/ö", "", "#é"], ["a b", "%G0"]),
    "hostname": (
        [
            "example.com",
            "a",
            "xn--bcher-kva.example",
            "a-b.c1.",
            "A" * 63,
            ".".join(["a" * 63] * 3) + "." + "b" * 61,
        ],
        [
            "",
            "-a.com",
            "a-.com",
            "a..b",
            "a_b.com",
            "a" * 64,
            ".".join(["a" * 63] * 3) + "." + "b" * 62,
            "é.com",
            ".",
            "a.com\n",
            "\u212a.com",
        ],
    ),
    "duration": (
        ["P1Y", "P1Y2M3DT4H5M6S", "PT1H", "P2W", "PT36H", "P1DT2M", "PT0S"],
        ["P", "PT", "P1Y2Y", "1Y", "P1W2D", "PT1H2D", "P1.5Y", "P1M2Y", "PT1S2M"],
    ),
    "uuid": (
        [
            "123e4567-e89b-12d3-a456-426614174000",
            "00000000-0000-0000-0000-000000000000",
            "ABCDEF01-2345-6789-abcd-ef0123456789",
        ],
        [
            "123e4567e89b12d3a456426614174000",
            "{123e4567-e89b-12d3-a456-426614174000}",
            "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456-42661417400g",
            "123e4567-e89b-12d3-a456-4266141740000",
        ],
    ),
}


@pytest.mark.parametrize("fmt", sorted(FORMAT_CASES))
def test_rfc_formats_on_samples(fmt):
    a = _automaton({"type": "string", "format": fmt})
    valid, invalid = FORMAT_CASES[fmt]
    for s in valid:
        assert _accepts_string(a, s), (fmt, s)
        assert all(re.fullmatch(rx, s) for rx in F.regexes(fmt)), (fmt, s)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for s in invalid:
        # not generated; in the any spelling judged as jsonschema's checker judges (which
        # takes a trailing newline, decimal durations, ...), except uuid: the RFC form
        assert not all(re.fullmatch(rx, s) for rx in F.regexes(fmt)), (fmt, s)
        exact = fmt != "uuid" and checker.conforms(s, fmt)
        assert _accepts_string(a, s) == exact, (fmt, s)


_URI_PIECES = [
    "http:",
    "//",
    "[::1]",
    "[v1.a]",
    "1.2.3.4",
    "%41",
    "%4",
    "a@",
    "::",
    ":80",
    "/",
    "?",
    "#",
    "é",
    "\ue000",
    "x",
    "-",
    "[",
    "]",
    " ",
    "~",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_URI_PIECES), max_size=7).map("".join))
def test_uri_regexes_agree_with_rfc3987(s):
    import rfc3987  # the dev extra: jsonschema's uri / iri checker (a failure if absent)

    for fmt, rule in (
        ("uri", "URI"),
        ("uri-reference", "URI_reference"),
        ("iri", "IRI"),
        ("iri-reference", "IRI_reference"),
    ):
        ours = re.fullmatch(F.regexes(fmt)[0], s) is not None
        assert ours == (rfc3987.match(s, rule=rule) is not None), (fmt, s)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "-", ".", "1", "_", "Z", "a" * 62, "é"]), max_size=9).map(
        "".join
    )
)
def test_hostname_regexes_agree_with_fqdn(s):
    import fqdn  # the dev extra: jsonschema's hostname checker (a failure if absent)

    try:
        theirs = fqdn.FQDN(s, min_labels=1).is_valid
    except ValueError:
        theirs = False
    assert all(re.fullmatch(rx, s) for rx in F.regexes("hostname")) == theirs, s


def test_format_under_not_is_the_complement():
    a = _automaton({"type": "string", "not": {"format": "uuid"}})
    assert _accepts_string(a, "hello")
    assert not _accepts_string(a, "123e4567-e89b-12d3-a456-426614174000")


# --------------------------------------------------------------------------- multipleOf


def _decimal_multiple(text: str, step: str) -> bool:
    q = Decimal(text) / Decimal(step)
    return q == q.to_integral_value()


_NUMBER_TEXTS = st.one_of(
    st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False).map(str),
    st.builds(
        lambda i, f, e: f"{i}.{f}e{e}",
        st.integers(1, 9),
        st.integers(0, 99999),
        st.integers(-6, 6),
    ),
    st.builds(
        lambda i, f, z: f"{i}.{f}{'0' * z}",
        st.integers(0, 999),
        st.integers(0, 999),
        st.integers(0, 3),
    ),
    st.integers(-(10**9), 10**9).map(str),
    st.sampled_from(["0.07", "19.99", "1e-2", "1e-3", "1.5e-2", "1.23456e3", "-0.01", "1E+2"]),
)


@pytest.mark.parametrize("step", ["0.1", "0.01", "0.001"])
def test_decimal_multiple_of_is_exact_on_decimal_values(step):
    schema = {"type": "number", "multipleOf": float(step), "minimum": -500}
    a = _automaton(schema)

    @settings(max_examples=300, deadline=None)
    @given(_NUMBER_TEXTS)
    def run(text):
        d = Decimal(text)
        expected = d >= -500 and _decimal_multiple(text, step)
        assert a.matches(text.encode()) == expected, (step, text)

    run()


def test_decimal_multiple_of_differs_from_float_division_only_by_rounding():
    a = _automaton({"multipleOf": 0.01})
    # 0.07 / 0.01 == 7.000000000000001 in binary floats: jsonschema rejects it; it is a
    # multiple of 0.01 in the JSON Schema (decimal) sense
    assert not jsonschema.Draft202012Validator({"multipleOf": 0.01}).is_valid(0.07)
    assert a.matches(b"0.07") and a.matches(b"19.99") and a.matches(b"10")
    assert not a.matches(b"0.071") and not a.matches(b"1e-3")


# --------------------------------------------------------------------------- uniqueItems

UNIQUE = [
    {"type": "array", "items": {"enum": ["a", "b", 1, 1.0, {"x": 1}]}, "uniqueItems": True},
    {"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 1},
    {
        "type": "array",
        "items": {"enum": ["a", "b", "c"]},
        "uniqueItems": True,
        "maxItems": 2,
        "minItems": 1,
    },
    {"items": {"type": ["boolean", "null"]}, "uniqueItems": True},
]


@pytest.mark.parametrize("schema", UNIQUE, ids=range(len(UNIQUE)))
def test_unique_items_on_finite_domains_exhaustive(schema):
    a = _automaton(schema)
    v = jsonschema.Draft202012Validator(schema)
    domain = ["a", "c", 1, 1.0, True, False, {"x": 1}, None]
    for n in range(5):
        for t in itertools.product(domain, repeat=n):
            t = list(t)
            for text in (json.dumps(t), json.dumps(t, separators=(",", ":"))):
                assert a.matches(text.encode()) == v.is_valid(t), text
    assert a.matches(b"5") == v.is_valid(5)


# --------------------------------------------------------------------------- complements


def test_not_required_is_objects_without_the_key():
    a = _automaton({"not": {"required": ["a"]}})
    assert a.matches(b"{}") and a.matches(b'{"b": 1}')
    assert not a.matches(b'{"a": 1}')
    assert not a.matches(b"5") and not a.matches(b'"x"')  # required holds on non-objects


def test_one_of_overlapping_required_keys():
    a = _automaton({"oneOf": [{"required": ["radius"]}, {"required": ["length", "width"]}]})
    assert a.matches(b'{"radius": 1}') and a.matches(b'{"length": 1, "width": 2}')
    assert a.matches(b'{"radius": 1, "length": 2}')
    assert not a.matches(b'{"radius": 1, "length": 1, "width": 2}')
    assert not a.matches(b"{}") and not a.matches(b"3")  # both branches hold on non-objects


def test_if_then_else_on_a_property_value():
    s = {
        "properties": {"kind": {"enum": ["a", "b"]}, "x": {}, "y": {}},
        "if": {"properties": {"kind": {"const": "a"}}, "required": ["kind"]},
        "then": {"required": ["x"]},
        "else": {"required": ["y"]},
    }
    a = _automaton(s)
    assert a.matches(b'{"kind": "a", "x": 1}') and a.matches(b'{"kind": "b", "y": 1}')
    assert a.matches(b'{"y": 1}') and not a.matches(b'{"x": 1}')
    assert not a.matches(b'{"kind": "a", "y": 1}')


REFUSED = [
    (
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "uniqueItems",
        "/",
        "finite set",
    ),
    ({"items": {"enum": list(range(11))}, "uniqueItems": True}, "uniqueItems", "/", "at most 10"),
    ({"multipleOf": 0.25}, "multipleOf", "/", "0.25"),
    ({"not": {"patternProperties": {"a": {"type": "string"}}}}, "not", "/", "patternProperties"),
    ({"not": {"additionalProperties": False}}, "not", "/", "additionalProperties"),
    ({"not": {"uniqueItems": True}}, "not", "/", "uniqueItems"),
    ({"not": {"format": "regex"}}, "not", "/", "format 'regex'"),
    (
        {"if": {"patternProperties": {"a": {"type": "string"}}}, "then": {"minProperties": 2}},
        "if",
        "/",
        "patternProperties",
    ),
    ({"format": "regex"}, "format", "/", "regex"),
]


@pytest.mark.parametrize(
    "schema,keyword,pointer,detail", REFUSED, ids=[r[1] + str(i) for i, r in enumerate(REFUSED)]
)
def test_refusal_messages(schema, keyword, pointer, detail):
    with pytest.raises(UnsupportedSchemaError) as info:
        JsonSchema(schema).to_grammar()
    msg = str(info.value)
    assert msg.startswith(f"{keyword} at {pointer} is not supported"), msg
    assert detail in msg, msg
    assert info.value.keyword == keyword and info.value.pointer == pointer


CONTAINS = [
    {"type": "array", "contains": {"type": "integer"}},
    {
        "type": "array",
        "contains": {"const": "a"},
        "minContains": 2,
        "maxContains": 3,
        "maxItems": 5,
    },
    {
        "items": {"type": ["string", "integer"]},
        "contains": {"type": "string"},
        "minContains": 0,
        "maxContains": 1,
    },
    {"type": "array", "contains": {"minimum": 2}, "minItems": 2},
    {"not": {"items": {"type": "string"}}},
    {"not": {"contains": {"const": 1}, "minContains": 2}},
]


@pytest.mark.parametrize("schema", CONTAINS, ids=range(len(CONTAINS)))
def test_contains_and_complement_of_items_exhaustive(schema):
    a = _automaton(schema)
    v = jsonschema.Draft202012Validator(schema)
    for n in range(6):
        for t in itertools.product(["a", 1, 2, None, [1]], repeat=n):
            t = list(t)
            assert a.matches(json.dumps(t).encode()) == v.is_valid(t), t
    for x in (5, "s", {}):
        assert a.matches(json.dumps(x).encode()) == v.is_valid(x)


# --------------------------------------------------------------------------- key order


def test_small_objects_accept_declared_keys_in_any_order_once():
    s = {"type": "object", "properties": {k: {"type": "integer"} for k in "abc"}, "required": ["b"]}
    a = _automaton(s)
    for keys in itertools.permutations("abc"):
        assert a.matches(json.dumps({k: 1 for k in keys}).encode())
    assert not a.matches(b'{"b": 1, "b": 2}')  # at most once
    assert not a.matches(b'{"a": 1, "c": 2}')


def test_large_objects_accept_any_order_and_check_every_occurrence():
    props = {k: {"type": "integer"} for k in "abcdefgh"}
    s = {
        "type": "object",
        "properties": props,
        "required": ["h", "a"],
        "additionalProperties": False,
    }
    a = _automaton(s)
    v = jsonschema.Draft202012Validator(s)
    for keys in [("h", "a"), ("b", "h", "c", "a"), ("a", "b"), tuple("hgfedcba"), ("a", "x", "h")]:
        inst = {k: 1 for k in keys}
        assert a.matches(json.dumps(inst).encode()) == v.is_valid(inst), keys
    # a repeated key is checked every time: the value a parser keeps is valid either way
    assert a.matches(b'{"a": 1, "h": 2, "a": 3}')
    assert not a.matches(b'{"a": 1, "h": 2, "a": "3"}')
    # with a property count, large objects keep the properties order
    counted = {**s, "maxProperties": 5}
    c = _automaton(counted)
    assert c.matches(b'{"a": 1, "h": 2}') and not c.matches(b'{"h": 2, "a": 1}')


def test_nested_complement_refusals_name_document_pointers_and_warn_when_not_strict():
    import warnings

    from structgen.jsonschema import SchemaApproximationWarning

    s = {"properties": {"a": {"not": {"properties": {"b": {"not": {"uniqueItems": True}}}}}}}
    with pytest.raises(UnsupportedSchemaError) as info:
        JsonSchema(s).to_grammar()
    assert info.value.pointer.startswith("/properties/a/not/properties/b")
    assert "!" not in str(info.value)
    t = {"properties": {"a": {"not": {"properties": {"b": {"propertyNames": {"maxLength": 1}}}}}}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        JsonSchema(t, strict=False).to_grammar()
    assert any(issubclass(w.category, SchemaApproximationWarning) for w in caught)
    assert all("!" not in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "draft, valid_texts",
    [
        ("http://json-schema.org/draft-04/schema#", {"12", "-7", "0", "-0"}),
        (
            "https://json-schema.org/draft/2020-12/schema",
            {"12", "-7", "0", "-0", "12.0", "1e3", "1.5e1"},
        ),
    ],
)
def test_integer_texts_follow_the_draft(draft, valid_texts):
    # up to draft-04 an integer is an integer literal; from draft-06 any integral number
    schema = {"$schema": draft, "type": "integer"}
    a = Automaton(JsonSchema(schema, spelling="any").to_grammar())
    validator = jsonschema.validators.validator_for(schema)(schema)
    for text in ["12", "-7", "0", "-0", "12.0", "1e3", "1.5e1", "1.5", "12.5e-1"]:
        expected = validator.is_valid(json.loads(text))
        assert expected == (text in valid_texts), text
        assert a.matches(text.encode()) == expected, text
