"""repeats="avoid" in the logits processor, without a model: random tokens among the
allowed ones, rows reordered as beam search does; no repeated array item where another
token was allowed, and never a dead end where the schema forces a repeat."""

from __future__ import annotations

import json
import random

import pytest

import structgen
from structgen.jsonschema import JsonSchema
from structgen.vocab import Vocabulary

torch = pytest.importorskip("torch")


def _vocab() -> Vocabulary:
    toks = [bytes([c]) for c in range(256)]
    toks += [b'"a"', b'", "', b'a"', b'"]', b"ab", b'["', b'"b', b", ", b"1,", b"12"]
    return Vocabulary(toks + [None], eos_ids=[len(toks)], size=len(toks) + 1)


VOCAB = _vocab()
EOS = next(iter(VOCAB.eos_ids))


def _generate(
    proc, rows: int, steps: int, rng: random.Random, shuffle: bool, every: bool = False
) -> list[str]:
    """A generate()-like loop: a random allowed token per row; the finished texts (with
    ``every``, the texts of all rows, finished or not)."""
    ids = torch.tensor([[7, 8]] * rows)
    done = torch.zeros(rows, dtype=torch.bool)
    for _ in range(steps):
        out = proc(ids, torch.zeros(rows, VOCAB.size))
        nxt = []
        for i in range(rows):
            allowed = torch.nonzero(out[i] > -float("inf")).flatten().tolist()
            assert allowed, "a dead end"
            nxt.append(EOS if done[i] else rng.choice(allowed))
        ids = torch.cat([ids, torch.tensor(nxt)[:, None]], dim=1)
        done = done | (ids[:, -1] == EOS)
        if shuffle:  # beams: reorder, duplicate some rows, drop others
            perm = [rng.randrange(rows) for _ in range(rows)]
            ids, done = ids[perm], done[perm]
        if bool(done.all()):
            break
    texts = []
    for row in ids.tolist():
        if EOS in row or every:
            end = row.index(EOS) if EOS in row else len(row)
            texts.append(b"".join(VOCAB.tokens[t] for t in row[2:end]).decode())
    return texts


def _repeats(value) -> int:
    items = [json.dumps(v) for v in value]
    return len(items) - len(set(items))


SCHEMA = {"type": "array", "items": {"type": "string", "pattern": "^[ab]+\\Z"}, "maxItems": 5}


@pytest.mark.parametrize("shuffle", [False, True])
def test_no_item_repeats_where_another_token_is_allowed(shuffle):
    compiled = structgen.compile(JsonSchema(SCHEMA), vocabulary=VOCAB)
    proc = structgen.LogitsProcessor(compiled)
    rng = random.Random(1 + shuffle)
    texts = []
    for _ in range(8):  # one processor, several generations
        texts += _generate(proc, 6, 120, rng, shuffle)
    assert len(texts) > 20
    for text in texts:
        value = json.loads(text)
        assert len(value) <= 5
        assert _repeats(value) == 0, text


def test_repeats_allow_leaves_them_to_the_model():
    """The same random walk with repeats="allow" does repeat items (so the test above
    would see them)."""
    compiled = structgen.compile(JsonSchema(SCHEMA, repeats="allow"), vocabulary=VOCAB)
    proc = structgen.LogitsProcessor(compiled)
    rng = random.Random(1)
    texts = []
    for _ in range(8):
        texts += _generate(proc, 6, 120, rng, False)
    assert sum(_repeats(json.loads(t)) for t in texts) > 0


def test_a_repeat_the_schema_forces_is_allowed():
    """Three items from two values: every output repeats one, and none gets stuck."""
    schema = {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 3, "maxItems": 3}
    compiled = structgen.compile(JsonSchema(schema, repeats="avoid"), vocabulary=VOCAB)
    proc = structgen.LogitsProcessor(compiled)
    rng = random.Random(3)
    texts = []
    for _ in range(4):
        texts += _generate(proc, 4, 60, rng, True)
    assert len(texts) == 16
    for text in texts:
        value = json.loads(text)
        assert len(value) == 3 and _repeats(value) == 1, text


def test_under_a_budget_every_output_is_complete():
    """Steered rows refuse copies of earlier items too, and still close in time."""
    compiled = structgen.compile(JsonSchema(SCHEMA), vocabulary=VOCAB)
    rng = random.Random(5)
    for budget in (4, 8, 16, 32):
        proc = structgen.LogitsProcessor(compiled, max_new_tokens=budget, margin=4)
        for text in _generate(proc, 6, budget, rng, True, every=True):
            assert len(json.loads(text)) <= 5, text


def test_smollm2_leaves_a_list_it_would_repeat(smollm2):
    """The quality benchmark's product task: SmolLM2 fills the tags with the product's
    name, again and again until the budget runs out (twelve times, where repeats are
    allowed). The output stays valid and has no repeated tag."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.quality_tasks import TASKS, Product, prompt

    model, tok = smollm2
    task = next(t for t in TASKS if t.name == "product")
    kwargs = {"max_new_tokens": 160, "do_sample": False}
    got = structgen.generate(model, tok, prompt(task), Product, **kwargs)
    assert isinstance(got, Product)
    assert _repeats(got.tags) == 0, got.tags
