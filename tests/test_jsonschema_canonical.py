"""The canonical spelling (``JsonSchema(schema)``, ``spelling="canonical"``): one text per value.

* the canonical text of a valid instance (keys in schema order, ``json.dumps(...,
  ensure_ascii=False)`` strings, plain-decimal numbers, the chosen whitespace style) is
  accepted, in every style;
* a text that differs from it only by another valid spelling (an escape, ``1.0`` for an
  integer, a repeated key, key order, whitespace, an undeclared key...) is rejected by the
  canonical grammar and accepted by ``spelling="any"``;
* whatever the canonical grammar accepts (mutated texts, random token walks on a real
  tokenizer) is valid by ``jsonschema`` and is the canonical text of its own value.

The reference spelling :func:`canon` is written here, independently of the lowering code.
"""

from __future__ import annotations

import json
import pickle
import random
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jsonschema_helpers import validator

import structgen
from structgen import assets
from structgen.automata import Automaton
from structgen.jsonschema import DEFAULT_CANONICAL_WHITESPACE, JsonSchema
from structgen.testing import token_ids_for_text

STYLES = ["spaced", "compact", "indent"]

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "role": {"enum": ["admin", "user", "guest"]},
        "address": {
            "type": "object",
            "properties": {
                "street": {"type": "string"},
                "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
            },
            "required": ["zip"],
        },
        "active": {"type": "boolean"},
    },
    "required": ["name", "age"],
}
# undeclared keys allowed explicitly (numbers), after the declared one
SCORES = {
    "type": "object",
    "properties": {"id": {"type": "integer"}},
    "required": ["id"],
    "additionalProperties": {"type": "number", "minimum": -5, "maximum": 5},
}
ITEMS = {
    "type": "array",
    "items": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
    "maxItems": 4,
}
# a small object: "any" key order accepts its keys in any order
SMALL = {
    "type": "object",
    "properties": {"b": {"type": "integer"}, "a": {"type": "string"}},
    "required": ["b", "a"],
}
SCHEMAS = {"person": PERSON, "scores": SCORES, "items": ITEMS, "small": SMALL}

FLOATS = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.decimals(
    min_value=-1000, max_value=1000, allow_nan=False, places=4
).map(float)
person_values = st.fixed_dictionaries(
    {"name": st.text(max_size=12), "age": st.integers(0, 150)},
    optional={
        "score": FLOATS,
        "tags": st.lists(st.text(max_size=6), max_size=3),
        "role": st.sampled_from(["admin", "user", "guest"]),
        "address": st.fixed_dictionaries(
            {"zip": st.from_regex(r"\A[0-9]{5}\Z")}, optional={"street": st.text(max_size=8)}
        ),
        "active": st.booleans(),
    },
)
scores_values = st.builds(
    lambda i, extra: {"id": i, **{k: v for k, v in extra.items() if k != "id"}},
    st.integers(-(10**9), 10**9),
    st.dictionaries(
        st.text(max_size=5),
        st.integers(-5, 5) | st.floats(min_value=-5, max_value=5, allow_nan=False),
        max_size=3,
    ),
)
items_values = st.lists(st.integers() | st.text(max_size=5) | st.none(), max_size=4)
small_values = st.fixed_dictionaries({"a": st.text(max_size=4), "b": st.integers()})
VALUES = {"person": person_values, "scores": scores_values, "items": items_values}

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- the reference


def number(x) -> str:
    """The canonical number text: a plain decimal, no exponent, no trailing fraction zeros."""
    if isinstance(x, int):
        return str(x)
    d = Decimal(repr(x)) if isinstance(x, float) else Decimal(x)
    if d == 0:
        return "0"
    text = format(d, "f")  # exact (no rounding to the context's precision)
    return text.rstrip("0").rstrip(".") if "." in text else text


def canon(value, style: str = "spaced", depth: int = 0) -> str:
    """``value`` spelled canonically in ``style`` (keys in the order the dict has them)."""
    comma, colon = {"spaced": (", ", ": "), "compact": (",", ":"), "indent": (",", ": ")}[style]
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float, Decimal)):
        return number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        parts = [canon(x, style, depth + 1) for x in value]
        open_, close = "[", "]"
    else:
        parts = [
            json.dumps(k, ensure_ascii=False) + colon + canon(x, style, depth + 1)
            for k, x in value.items()
        ]
        open_, close = "{", "}"
    if not parts:
        return open_ + close
    if style == "indent":
        pad = "\n" + "  " * (depth + 1)
        return open_ + pad + (comma + pad).join(parts) + "\n" + "  " * depth + close
    return open_ + comma.join(parts) + close


def schema_order(schema: dict, value):
    """``value`` with each object's declared keys first, in ``properties`` order."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        keys = [k for k in props if k in value] + [k for k in value if k not in props]
        add = schema.get("additionalProperties", {})
        return {
            k: schema_order(props.get(k, add if isinstance(add, dict) else {}), value[k])
            for k in keys
        }
    if isinstance(value, list):
        items = schema.get("items", {})
        return [schema_order(items, x) for x in value]
    return value


_AUTOMATA: dict = {}


def automaton(name: str, **kw) -> Automaton:
    key = (name, tuple(sorted(kw.items())))
    if key not in _AUTOMATA:
        _AUTOMATA[key] = Automaton(JsonSchema(SCHEMAS[name], **kw).to_grammar())
    return _AUTOMATA[key]


def accepts(name: str, text: str, **kw) -> bool:
    return automaton(name, **kw).matches(text.encode())


# --------------------------------------------------------------------------- options


def test_defaults_and_options_api():
    s = JsonSchema(PERSON)
    assert (s.spelling, s.whitespace, s.key_order, s.extra_keys) == (
        "canonical",
        DEFAULT_CANONICAL_WHITESPACE,
        "schema",
        "explicit",
    )
    a = JsonSchema(PERSON, spelling="any")
    assert (a.whitespace, a.key_order, a.extra_keys) == ("bounded", "any", "any")
    assert s != a and hash(s) != hash(a)
    assert s == JsonSchema(PERSON, whitespace=DEFAULT_CANONICAL_WHITESPACE, key_order="schema")
    assert s != JsonSchema(PERSON, key_order="any")
    assert s != JsonSchema(PERSON, extra_keys="any")
    assert "spelling" not in repr(s) and "spelling='any'" in repr(a)
    assert "key_order='any'" in repr(JsonSchema(PERSON, key_order="any"))
    odd = JsonSchema(PERSON, spelling="any", whitespace="indent", extra_keys="explicit")
    assert pickle.loads(pickle.dumps(odd)) == odd
    assert "whitespace='indent'" in repr(odd) and "extra_keys='explicit'" in repr(odd)
    for kw in (
        {"spelling": "json"},
        {"whitespace": "pretty"},
        {"key_order": "sorted"},
        {"extra_keys": "none"},
    ):
        with pytest.raises(ValueError, match=next(iter(kw))):
            JsonSchema(PERSON, **kw)


# --------------------------------------------------------------------------- (a) accepted


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", ["person", "scores", "items"])
def test_canonical_text_of_valid_instances_is_accepted(name, style):
    v = validator(SCHEMAS[name])

    @SETTINGS
    @given(VALUES[name])
    def run(value):
        assert v.is_valid(value)
        text = canon(schema_order(SCHEMAS[name], value), style)
        assert accepts(name, text, whitespace=style), text
        assert accepts(name, text, spelling="any", whitespace=style), text

    run()


def test_spaced_and_indent_are_json_dumps_layouts():
    value = {
        "name": 'Zoë "Z" /\n\x01',
        "age": 41,
        "tags": ["a", "b"],
        "address": {"zip": "12345"},
        "active": True,
    }
    assert accepts("person", json.dumps(value, ensure_ascii=False))
    assert accepts("person", json.dumps(value, ensure_ascii=False, indent=2), whitespace="indent")
    assert accepts(
        "person", json.dumps(value, ensure_ascii=False, separators=(",", ":")), whitespace="compact"
    )
    # a nested closing bracket at the wrong depth
    bad = json.dumps(value, ensure_ascii=False, indent=2).replace('"12345"\n  }', '"12345"\n}')
    assert not accepts("person", bad, whitespace="indent")
    assert accepts("person", bad, spelling="any")


# --------------------------------------------------------------------------- (b) rejected

BASE = {"name": "Ann/é", "age": 30, "score": 2.5, "tags": ["x"], "role": "user"}
BASE_TEXT = canon(BASE)

NON_CANONICAL = {
    "escaped letter in a value": BASE_TEXT.replace('"Ann', '"\\u0041nn'),
    "escaped letter in a key": BASE_TEXT.replace('"name"', '"\\u006eame"'),
    "uppercase escape of a non-ASCII char": BASE_TEXT.replace("é", "\\u00E9"),
    "escaped slash": BASE_TEXT.replace("Ann/", "Ann\\/"),
    "integer with a fraction": BASE_TEXT.replace('"age": 30', '"age": 30.0'),
    "integer with an exponent": BASE_TEXT.replace('"age": 30', '"age": 3e1'),
    "number with a trailing zero": BASE_TEXT.replace("2.5", "2.50"),
    "number with an exponent": BASE_TEXT.replace("2.5", "25e-1"),
    "duplicate key": BASE_TEXT.replace('"age": 30', '"age": 30, "age": 30'),
    "trailing newline": BASE_TEXT + "\n",
    "trailing space": BASE_TEXT + " ",
    "leading space": " " + BASE_TEXT,
    "undeclared key": BASE_TEXT[:-1] + ', "nickname": "A"}',
    "key order": BASE_TEXT.replace('"name": "Ann/é", "age": 30', '"age": 30, "name": "Ann/é"'),
    "compact whitespace": json.dumps(BASE, ensure_ascii=False, separators=(",", ":")),
    "indented": json.dumps(BASE, ensure_ascii=False, indent=2),
    "space before a colon": BASE_TEXT.replace('"age": ', '"age" : '),
    "ascii-escaped json.dumps": json.dumps(BASE),
}


@pytest.mark.parametrize("kind", sorted(NON_CANONICAL))
def test_other_spellings_rejected_by_canonical_accepted_by_any(kind):
    text = NON_CANONICAL[kind]
    assert validator(PERSON).is_valid(json.loads(text))
    assert accepts("person", text, spelling="any"), text
    assert not accepts("person", text), text
    assert accepts("person", BASE_TEXT)


def test_negative_zero_and_invalid_numbers():
    assert accepts("items", "[0, -1, 7]")
    assert not accepts("items", "[-0]") and accepts("items", "[-0]", spelling="any")
    for bad in ("[+1]", "[01]", "[1.]", "[.5]"):  # not JSON: rejected by both
        assert not accepts("items", bad) and not accepts("items", bad, spelling="any")


@SETTINGS
@given(person_values, st.data())
def test_escaping_any_char_of_a_value_is_rejected(value, data):
    value = schema_order(PERSON, value)
    text = canon(value)
    if not value["name"]:
        return
    i = data.draw(st.integers(0, len(value["name"]) - 1))
    ch = value["name"][i]
    if ch in '"\\' or ord(ch) < 0x20 or ord(ch) > 0xFFFF:
        return  # escaped already, or needs a surrogate pair
    name = value["name"]
    body = (
        json.dumps(name[:i], ensure_ascii=False)[1:-1]
        + f"\\u{ord(ch):04x}"
        + json.dumps(name[i + 1 :], ensure_ascii=False)[1:-1]
    )
    old = '"name": ' + json.dumps(name, ensure_ascii=False)
    assert text.startswith("{" + old)
    other = text.replace(old, f'"name": "{body}"', 1)
    assert json.loads(other) == value
    assert accepts("person", other, spelling="any")
    assert not accepts("person", other)
    assert accepts("person", text)


def test_undeclared_and_repeated_keys():
    # additionalProperties given: undeclared keys after the declared ones, never a declared one
    assert accepts("scores", '{"id": 1, "x": 2, "y": -0.5}')
    assert not accepts("scores", '{"x": 2, "id": 1}')
    assert accepts("scores", '{"x": 2, "id": 1}', spelling="any")
    assert not accepts("scores", '{"id": 1, "id": 2}')
    assert not accepts("scores", '{"id": 1, "i\\u0064": 2}')
    # additionalProperties absent: declared keys only, unless extra_keys="any"
    assert not accepts("small", '{"b": 1, "a": "", "c": 1}')
    assert accepts("small", '{"b": 1, "a": "", "c": 1}', extra_keys="any")
    # key_order="any": both orders, each key once
    assert not accepts("small", '{"a": "", "b": 1}')
    assert accepts("small", '{"a": "", "b": 1}', key_order="any")
    assert not accepts("small", '{"a": "", "b": 1, "b": 1}', key_order="any", extra_keys="any")


def test_pattern_properties_and_all_of_allow_undeclared_keys_explicitly():
    pats = Automaton(
        JsonSchema(
            {
                "properties": {"id": {"type": "integer"}},
                "patternProperties": {"^x-": {"type": "string"}},
            }
        ).to_grammar()
    )
    assert pats.matches(b'{"id": 1, "x-a": "b"}')
    assert not pats.matches(b'{"id": 1, "y": "b"}')
    assert not pats.matches(b'{"id": 1, "x-a": 2}')
    merged = Automaton(
        JsonSchema(
            {
                "allOf": [
                    {"properties": {"a": {"type": "integer"}}},
                    {"additionalProperties": {"type": "integer"}},
                ]
            }
        ).to_grammar()
    )
    assert merged.matches(b'{"a": 1, "b": 2}')
    assert not merged.matches(b'{"a": 1, "b": "2"}')
    assert not merged.matches(b'{"b": 2, "a": 1}')


def test_indent_layout_of_recursive_schemas():
    tree = {
        "$defs": {
            "t": {
                "type": "object",
                "properties": {
                    "v": {"type": "integer"},
                    "kids": {"type": "array", "items": {"$ref": "#/$defs/t"}},
                },
                "required": ["v"],
            }
        },
        "$ref": "#/$defs/t",
    }
    a = Automaton(JsonSchema(tree, whitespace="indent").to_grammar())
    value = {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}, {"v": 4, "kids": []}]}]}
    assert a.matches(json.dumps(value, indent=2).encode())
    assert not a.matches(json.dumps(value).encode())
    assert not a.matches(json.dumps(value, indent=4).encode())


def test_min_properties_beyond_declared_keys_still_allows_undeclared_keys():
    g = Automaton(JsonSchema({"type": "object", "minProperties": 1}).to_grammar())
    assert g.matches(b'{"k": 1}') and not g.matches(b"{}")
    closed = Automaton(JsonSchema({"type": "object"}).to_grammar())
    assert closed.matches(b"{}") and not closed.matches(b'{"k": 1}')


def test_enum_and_const_as_json_dumps_writes_them():
    s = {
        "type": "object",
        "properties": {
            "c": {"const": {"k": [1.0, "é/"], "j": None}},
            "e": {"enum": [1e20, 0.5, "a\u00e9"]},
        },
    }
    a = Automaton(JsonSchema(s).to_grammar())
    assert a.matches('{"c": {"k": [1.0, "é/"], "j": null}, "e": 1e+20}'.encode())
    assert a.matches('{"e": "aé"}'.encode())
    for other in (
        '{"c": {"k": [1, "é/"], "j": null}}',
        '{"e": 100000000000000000000}',
        '{"e": 0.50}',
        '{"e": "a\\u00e9"}',
    ):
        assert not a.matches(other.encode()), other
        assert Automaton(JsonSchema(s, spelling="any").to_grammar()).matches(other.encode())


# --------------------------------------------------------------------------- (c) sound


def _parse(text: str):
    return json.loads(text, parse_float=Decimal)


def _plain(v):
    """Decimals back to floats for jsonschema."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@pytest.mark.parametrize("name", ["person", "scores", "items"])
def test_mutated_texts_accepted_only_when_canonical_and_valid(name):
    v = validator(SCHEMAS[name])
    alphabet = list(' \n",:{}[]\\/0123456789.-+eEaéu') + ["\\u0041", "\\n", "null", "1.0"]

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(VALUES[name], st.data())
    def run(value, data):
        text = canon(schema_order(SCHEMAS[name], value))
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, len(text)))
            op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
            s = data.draw(st.sampled_from(alphabet))
            if op == "insert":
                text = text[:i] + s + text[i:]
            elif op == "delete":
                text = text[:i] + text[i + 1 :]
            else:
                text = text[:i] + s + text[i + 1 :]
        if accepts(name, text):
            parsed = _parse(text)
            assert v.is_valid(_plain(parsed)), text
            assert canon(parsed) == text, text

    run()


def _walk(compiled, seed: int, max_tokens: int = 120) -> str | None:
    rng = random.Random(seed)
    vocab = compiled.vocabulary
    m = compiled.matcher()
    data = b""
    for step in range(max_tokens):
        mask = m.mask()
        allowed = np.flatnonzero(mask)
        eos = [t for t in allowed.tolist() if t in vocab.eos_ids]
        if eos:
            assert set(allowed.tolist()) <= set(vocab.eos_ids) or not m.is_ended()
            if rng.random() < 0.7 or len(allowed) == len(eos):
                return data.decode("utf-8")
        pool = [t for t in allowed.tolist() if t not in vocab.eos_ids]
        if step > 10 and rng.random() < 0.8:
            short = [t for t in pool if not any(c in vocab.tokens[t] for c in b"{[,")]
            pool = short or pool
        tid = int(rng.choice(pool))
        assert m.advance(tid)
        data += vocab.tokens[tid]
    return None


WALKED = {"spaced": "person", "compact": "scores", "indent": "items"}


@pytest.mark.parametrize("style", STYLES)
def test_random_token_walks_are_valid_canonical_texts(tokenizers, style):
    tok = tokenizers["smollm2"]
    for name in (WALKED[style],):
        compiled = structgen.compile(
            JsonSchema(SCHEMAS[name], whitespace=style),
            tok,
            vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"],
        )
        done = 0
        for seed in range(6):
            text = _walk(compiled, seed)
            if text is None:
                continue
            done += 1
            parsed = _parse(text)
            assert validator(SCHEMAS[name]).is_valid(_plain(parsed)), text
            assert canon(parsed, style) == text, text
        assert done, f"no walk finished for {name}"


def test_only_eos_after_the_value_closes(tokenizers):
    tok = tokenizers["smollm2"]
    compiled = structgen.compile(
        JsonSchema(PERSON), tok, vocab_size=assets.MODEL_VOCAB_SIZE["smollm2"]
    )
    m = compiled.matcher()
    for t in token_ids_for_text(tok, BASE_TEXT):
        assert m.advance(t)
    allowed = set(np.flatnonzero(m.mask()).tolist())
    assert allowed and allowed <= set(compiled.vocabulary.eos_ids)


NUMBER_SCHEMAS = {
    "range": (
        {"type": "number", "minimum": -2.5, "exclusiveMaximum": 10},
        lambda d: -2.5 <= d < 10,
    ),
    "cents": ({"type": "number", "multipleOf": 0.01}, lambda d: d % Decimal("0.01") == 0),
    "fives": ({"type": "number", "multipleOf": 5}, lambda d: d % 5 == 0),
    "int_range": (
        {"type": "integer", "minimum": -30, "maximum": 1000},
        lambda d: d == int(d) and -30 <= d <= 1000,
    ),
}


@pytest.mark.parametrize("name", sorted(NUMBER_SCHEMAS))
def test_numbers_one_text_per_value(name):
    schema, valid = NUMBER_SCHEMAS[name]
    a = Automaton(JsonSchema(schema).to_grammar())
    any_ = Automaton(JsonSchema(schema, spelling="any").to_grammar())

    @settings(max_examples=150, deadline=None)
    @given(st.decimals(min_value=-100, max_value=2000, allow_nan=False, places=3))
    def run(d):
        text = number(d)
        assert a.matches(text.encode()) == valid(d), text
        others = [f"{d:.5f}", f"{d:e}", f"{d:E}"]
        if d == int(d):
            others += [f"{int(d)}.0", f"{int(d)}e0"]
        for other in others:
            if other != text:
                assert not a.matches(other.encode()), other
        # plain decimals with trailing zeros: another spelling of the same value
        assert any_.matches(f"{d:.5f}".encode()) == valid(d)

    run()
