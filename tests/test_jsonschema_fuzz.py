"""Fuzzing: arbitrary JSON values as schemas either compile or raise a structgen error.

Two sources: any JSON value at all (mostly meaningless schemas), and values built from the
JSON Schema vocabulary (keywords with values of random shapes and types, nested), which
reach far deeper into the lowering. Whatever compiles is also checked on one value.
"""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structgen.automata import Automaton
from structgen.errors import StructgenError
from structgen.jsonschema import JsonSchema

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-3, 3, allow_nan=False)
    | st.text(max_size=4)
)
any_json = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=10,
)

KEYWORDS = [
    "type", "enum", "const", "properties", "required", "additionalProperties",
    "patternProperties", "propertyNames", "minProperties", "maxProperties", "items",
    "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains",
    "anyOf", "oneOf", "allOf", "not", "if", "then", "else", "dependentRequired",
    "dependentSchemas", "dependencies", "$ref", "$defs", "definitions", "pattern", "format",
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf",
]  # fmt: skip
TYPES = ["null", "boolean", "object", "array", "string", "number", "integer"]
small_values = (
    st.sampled_from(TYPES)
    | st.lists(st.sampled_from(TYPES), max_size=3)
    | st.integers(-3, 6)
    | st.sampled_from([0.5, 0.01, 2.5, -1.5])
    | st.booleans()
    | st.sampled_from(
        ["a", "^a$", "[0-9]+", "(", "uri", "date", "uuid", "#", "#/$defs/x", "#/properties/a"]
    )
    | st.lists(st.sampled_from(["a", "b", 1, None]), max_size=3)
)


def _schemas(children):
    kv = st.tuples(
        st.sampled_from(KEYWORDS),
        small_values | children | st.lists(children, min_size=1, max_size=3),
    )
    maps = st.dictionaries(st.sampled_from(["a", "b", "x"]), children, max_size=2)
    named = st.tuples(
        st.sampled_from(["properties", "$defs", "patternProperties", "dependentSchemas"]), maps
    )
    return st.lists(kv | named, max_size=4).map(dict)


vocab_schemas = st.recursive(st.booleans() | st.just({}), _schemas, max_leaves=8)


def _check(schema, value) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grammars = [JsonSchema(schema, spelling=sp).to_grammar() for sp in ("canonical", "any")]
    except StructgenError:
        return
    for g in grammars:
        a = Automaton(g)
        a.matches(repr(value).encode())  # runs the automaton on some input: no exception


@SETTINGS
@given(any_json, any_json)
def test_any_json_value_as_schema(schema, value):
    _check(schema, value)


@SETTINGS
@given(vocab_schemas, any_json)
def test_vocabulary_shaped_schemas(schema, value):
    _check(schema, value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vocab_schemas)
def test_non_strict_never_raises_other_errors(schema):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            JsonSchema(schema, strict=False).to_grammar()
            JsonSchema(schema, strict=False, spelling="any", whitespace="indent").to_grammar()
    except StructgenError:
        pass
