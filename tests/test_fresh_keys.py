"""Repeated object keys in the logits processor, without a model: random walks over the
constraint of schemas whose undeclared keys a grammar cannot keep distinct. Every complete
text parses, has no repeated key and is valid; the walks never reach a dead end."""

from __future__ import annotations

import json
import logging
import random

import jsonschema
import pytest

import structgen
from structgen.jsonschema import JsonSchema
from structgen.vocab import Vocabulary

torch = pytest.importorskip("torch")


def _vocab() -> Vocabulary:
    # few bytes, so that keys are short and a walk would repeat them often
    toks = [bytes([c]) for c in b'{}[]":, 012-xya']
    toks += [b'"x"', b'"x', b'x"', b'"y"', b'": ', b'", "', b', "', b'"x": ', b'{"', b'"xy"']
    toks += [b'"a', b'xx"', b"12"]
    return Vocabulary(toks + [None], eos_ids=[len(toks)], size=len(toks) + 1)


VOCAB = _vocab()
EOS = next(iter(VOCAB.eos_ids))
QUOTED = {i for i, t in enumerate(VOCAB.tokens) if t and b'"' in t}


def _walk(proc, rows: int, steps: int, rng: random.Random) -> list[str]:
    """A generate()-like loop with beams' reordering: per row a random allowed token,
    an object's ``{`` first where allowed, a token with a quote (short keys) most of the time; the texts of the rows that ended."""
    ids = torch.tensor([[3, 4]] * rows)
    done = torch.zeros(rows, dtype=torch.bool)
    for step in range(steps):
        out = proc(ids, torch.zeros(rows, VOCAB.size))
        nxt = []
        for i in range(rows):
            allowed = torch.nonzero(out[i] > -float("inf")).flatten().tolist()
            assert allowed, "a dead end"
            quoted = [t for t in allowed if t in QUOTED]
            opening = [t for t in allowed if VOCAB.tokens[t] and VOCAB.tokens[t][:1] == b"{"]
            if done[i]:
                nxt.append(EOS)
            elif step == 0 and opening:  # an object, mostly
                nxt.append(rng.choice(opening))
            elif EOS in allowed and rng.random() < 0.1:
                nxt.append(EOS)
            else:
                nxt.append(rng.choice(quoted if quoted and rng.random() < 0.6 else allowed))
        ids = torch.cat([ids, torch.tensor(nxt)[:, None]], dim=1)
        done = done | (ids[:, -1] == EOS)
        perm = [rng.randrange(rows) for _ in range(rows)]
        ids, done = ids[perm], done[perm]
        if bool(done.all()):
            break
    texts = []
    for row in ids.tolist():
        if EOS in row:
            end = row.index(EOS)
            texts.append(b"".join(VOCAB.tokens[t] for t in row[2:end]).decode())
    return texts


def _distinct_keys(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    assert len(set(keys)) == len(keys), f"repeated key in {pairs}"
    return dict(pairs)


SCHEMAS = [
    {"minProperties": 2},
    {"type": "object", "patternProperties": {"^x": {"type": "integer"}}, "minProperties": 3},
    {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "y": {"type": "string"}},
        "required": ["x"],
        "additionalProperties": {"type": "integer"},
        "minProperties": 4,
    },
]


@pytest.mark.parametrize("spelling", ["canonical", "any"])
@pytest.mark.parametrize("repeats", ["avoid", "allow"])
@pytest.mark.parametrize("schema", SCHEMAS, ids=["min", "pattern", "additional"])
def test_no_repeated_key_in_generated_objects(schema, spelling, repeats):
    spec = JsonSchema(schema, spelling=spelling, repeats=repeats)
    compiled = structgen.compile(spec, vocabulary=VOCAB)
    proc = structgen.LogitsProcessor(compiled, max_new_tokens=40, margin=4)
    rng = random.Random(f"{schema}{spelling}{repeats}")
    texts = []
    for _ in range(16):  # one processor, several generations
        texts += _walk(proc, 6, 40, rng)
    objects = 0
    for text in texts:
        value = json.loads(text, object_pairs_hook=_distinct_keys)
        jsonschema.validate(value, schema)
        objects += isinstance(value, dict)
    assert objects >= 15


def test_a_forced_repeat_goes_through_with_a_warning(caplog):
    """Keys from {"x", "y"} only and three properties: the third key must repeat one. The
    processor lets it through (never a dead end) and logs a warning; the grammar's text
    is then one jsonschema reads with two properties."""
    schema = {
        "type": "object",
        "propertyNames": {"enum": ["x", "y"]},
        "additionalProperties": {"const": 0},
        "minProperties": 3,
        "maxProperties": 3,
    }
    spec = JsonSchema(schema, spelling="any", whitespace="compact")
    compiled = structgen.compile(spec, vocabulary=VOCAB)
    proc = structgen.LogitsProcessor(compiled)
    with caplog.at_level(logging.WARNING, logger="structgen.hf.fresh_items"):
        texts = _walk(proc, 2, 60, random.Random(0))
    assert texts
    assert "repeats a key" in caplog.text
