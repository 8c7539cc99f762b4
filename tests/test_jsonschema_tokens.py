"""JSON Schema constraints on real tokenizers (smollm2, llama3):

* valid instances' JSON texts are accepted token by token (the tokenizer's own tokenization)
  and leave the matcher accepting, with EOS allowed;
* invalid instances' texts are rejected at some token or are not accepting at the end;
* random walks through ``mask()`` until EOS produce JSON that jsonschema validates.
"""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jsonschema_exact import SCHEMAS
from test_jsonschema_helpers import in_convention_text, instances, mutations, order_like, validator

import structgen
from structgen import assets
from structgen.jsonschema import JsonSchema
from structgen.testing import token_ids_for_text

TOKENIZERS = ["smollm2", "llama3"]
NAMES = [
    "nested_objects",
    "additional_schema",
    "tuple",
    "enum_mixed",
    "one_of_discriminated",
    "tree",
    "int_ranges",
    "string_lengths",
    "formats",
    "pattern_properties",
    "not_and_deps",
]
# walks need schemas a random walk can finish: required keys that open additional
# properties would leave to chance are avoided
WALK_NAMES = [
    "optional_combinations",
    "additional_false",
    "tuple",
    "any_of",
    "tree",
    "int_ranges",
    "string_lengths",
    "formats",
]

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


def _compiled(tok_name, tok, name, **kw):
    return structgen.compile(
        JsonSchema(SCHEMAS[name], **{"spelling": "any", **kw}),
        tok,
        vocab_size=assets.MODEL_VOCAB_SIZE[tok_name],
    )


def _feed(compiled, ids):
    m = compiled.matcher()
    for t in ids:
        if not m.mask()[t]:
            assert not m.fork().advance(t), "mask and advance disagree"
            return False, m
        assert m.advance(t)
    return True, m


def _check(compiled, tok, text: str, valid: bool) -> None:
    try:
        ids = token_ids_for_text(tok, text)
    except ValueError:
        return
    ok, m = _feed(compiled, ids)
    if valid:
        assert ok, f"valid text rejected: {text!r}"
        assert m.is_accepting(), f"valid text not accepting at the end: {text!r}"
        eos = next(iter(compiled.vocabulary.eos_ids))
        assert m.mask()[eos]
    else:
        assert not (ok and m.is_accepting()), f"invalid text accepted: {text!r}"


def _walk(compiled, n: int, max_tokens: int, seed: int) -> list[str]:
    """Random generations: any allowed token, biased towards closing the value as the walk
    gets longer (tokens without ``{ [ ,`` that end with ``"``, ``}`` or ``]``)."""
    rng = random.Random(seed)
    vocab = compiled.vocabulary
    eos = sorted(vocab.eos_ids)
    out = []
    for _ in range(n):
        m = compiled.matcher()
        data = b""
        for step in range(max_tokens):
            mask = m.mask()
            assert mask.any(), f"empty mask after {data!r}"
            allowed = np.flatnonzero(mask)
            if mask[eos[0]] and (rng.random() < 0.5 or len(allowed) == 1):
                assert m.advance(eos[0])
                break
            pool = [t for t in allowed.tolist() if t not in vocab.eos_ids]
            if step > 8 and rng.random() < min(0.97, step / 25):
                flat = [
                    t
                    for t in pool
                    if not any(c in vocab.tokens[t] for c in b"{[,") and vocab.tokens[t].strip()
                ]
                closing = [t for t in flat if vocab.tokens[t][-1:] in (b'"', b"}", b"]")]
                pool = closing or flat or pool
            tid = int(rng.choice(pool))
            assert m.advance(tid)
            data += vocab.tokens[tid]
        if m.is_ended():
            out.append(data.decode("utf-8"))
    return out


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("name", NAMES)
def test_instances_token_by_token(tokenizers, tok_name, name):
    tok = tokenizers[tok_name]
    compiled = _compiled(tok_name, tok, name)
    schema = SCHEMAS[name]
    v = validator(schema)

    @SETTINGS
    @given(st.data())
    def run(data):
        value = data.draw(instances(schema))
        if data.draw(st.booleans()):
            value = data.draw(mutations(value))
        value = order_like(schema, value)
        valid = v.is_valid(value)
        for text in (json.dumps(value), json.dumps(value, indent=2)):
            _check(compiled, tok, text, valid and in_convention_text(text))

    run()


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("name", WALK_NAMES)
def test_random_walks_are_valid(tokenizers, tok_name, name):
    tok = tokenizers[tok_name]
    compiled = _compiled(tok_name, tok, name)
    v = validator(SCHEMAS[name])
    texts = _walk(compiled, 4, 200, seed=len(name))
    assert texts, "no walk finished"
    for text in texts:
        value = json.loads(text)
        if _overflows(value):
            # numbers beyond the float range (1e400 parses to inf): the grammar follows the
            # decimal value, jsonschema cannot judge the parsed float (tested with Decimal
            # arithmetic in test_jsonschema_lowering / test_jsonschema_keywords)
            continue
        assert v.is_valid(value), text


def _overflows(v) -> bool:
    if isinstance(v, float):
        return v in (float("inf"), float("-inf"))
    if isinstance(v, list):
        return any(_overflows(x) for x in v)
    if isinstance(v, dict):
        return any(_overflows(x) for x in v.values())
    return False


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_compact_walks(tokenizers, tok_name):
    tok = tokenizers[tok_name]
    compiled = _compiled(tok_name, tok, "optional_combinations", whitespace="compact")
    v = validator(SCHEMAS["optional_combinations"])
    for text in _walk(compiled, 3, 200, seed=3):
        assert v.is_valid(json.loads(text)), text
        outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
        assert not re.search(r"\s", outside_strings), text
