"""structgen.generate without a real model, and the budget machinery under it.

* ``Distances`` (minimal completion lengths) against a brute-force search over bytes;
* budget steering on real tokenizers: random token walks with small budgets always end in
  a complete, valid text;
* ``generate`` driven by a stand-in model whose logits are random (so outputs ramble
  until steering closes them): typed results, batches with mixed output types, copies
  per prompt, chat templates, the budget check before generating, ``steer=False``.
"""

from __future__ import annotations

import json
import random
from types import SimpleNamespace
from typing import Literal

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

import structgen
from structgen.automata.distance import INF, Distances
from structgen.compiler import compile_automaton
from structgen.jsonschema import JsonSchema

from grammars_for_tests import GRAMMARS

torch = pytest.importorskip("torch")


# ---- minimal completion lengths ----------------------------------------------------------------


def _brute_distance(A, config, alphabet, limit=40):
    """Breadth-first search over configurations, one byte at a time."""
    if A.is_accepting(config):
        return 0
    seen, frontier = {config}, [config]
    for depth in range(1, limit + 1):
        nxt = []
        for c in frontier:
            for b in alphabet:
                c2 = A.step(c, b)
                if not c2 or c2 in seen:
                    continue
                if A.is_accepting(c2):
                    return depth
                seen.add(c2)
                nxt.append(c2)
        frontier = nxt
    return INF


SPECS = {
    "alt": structgen.Regex(r"(abc|x{5})y|zz(q|rr)*w"),
    "counted": structgen.Regex(r"[ab]{3,6}(c[ab]{2})?d"),
    "unicode": structgen.Regex(r"(é|日本)+x|ab"),
    "json": JsonSchema(
        {
            "type": "object",
            "properties": {
                "a": {"type": "string", "minLength": 2},
                "b": {"type": "array", "items": {"enum": [10, 200]}, "minItems": 2},
            },
            "required": ["a", "b"],
        },
        whitespace="compact",
    ),
    **{name: g for name, (g, _, _) in GRAMMARS.items()},
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_distance_equals_brute_force_along_random_walks(name):
    A = compile_automaton(SPECS[name])
    # JSON: a few bytes keep the brute-force search small
    alphabet = list(b'{}[]":,ab120 ') if name == "json" else list(range(256))
    D = Distances(A, [b in alphabet for b in range(256)])
    rng = random.Random(name)
    for _ in range(6):
        cfg = A.initial()
        for _ in range(rng.randint(0, 12)):
            assert D.config(cfg) == _brute_distance(A, cfg, alphabet)
            opts = [b for b in alphabet if A.step(cfg, b)]
            if not opts:
                break
            cfg = A.step(cfg, rng.choice(opts))


def test_distance_over_a_restricted_alphabet():
    A = compile_automaton(structgen.Regex(r"é|abc"))
    assert Distances(A).config(A.initial()) == 2  # é is two bytes
    no_c3 = [b != 0xC3 for b in range(256)]
    assert Distances(A, no_c3).config(A.initial()) == 3
    only_ab = [b in b"ab" for b in range(256)]
    assert Distances(A, only_ab).config(A.initial()) == INF


def test_distance_of_recursive_rules():
    A = compile_automaton(GRAMMARS["brackets"][0])
    D = Distances(A)
    cfg = A.run(A.initial(), b"([{")
    assert D.config(cfg) == 3  # "}])"


# ---- budgets on real tokenizers ----------------------------------------------------------------

BUDGET_SCHEMAS = {
    "person": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 2},
            "email": {"type": "string", "format": "email"},
            "age": {"type": "integer", "minimum": 18, "maximum": 99},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4},
        },
        "required": ["name", "email", "age", "tags"],
    },
    "tree": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "v": {"type": "integer"},
                    "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["v", "kids"],
            }
        },
        "$ref": "#/$defs/node",
    },
    "choice": {
        "anyOf": [
            {"type": "object", "properties": {"x": {"enum": ["left", "right"]}}, "required": ["x"]},
            {"type": "array", "items": {"type": "number"}, "minItems": 3},
        ]
    },
}


@pytest.mark.parametrize("tok_name", ["smollm2", "llama3"])
@pytest.mark.parametrize("schema_name", sorted(BUDGET_SCHEMAS))
def test_random_walks_with_small_budgets_end_valid(tokenizers, tok_name, schema_name):
    tok = tokenizers[tok_name]
    schema = BUDGET_SCHEMAS[schema_name]
    compiled = structgen.compile(JsonSchema(schema), tok)
    need = compiled.matcher().tokens_to_complete()
    assert 0 < need < INF
    eos = next(iter(compiled.eos_token_ids))

    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 12), st.randoms(use_true_random=False))
    def walk(extra, rng):
        budget = int(need) + extra
        m = compiled.matcher()
        data = b""
        for left in range(budget, 0, -1):
            allowed = m.mask_within(left).nonzero()[0]
            assert allowed.size
            t = int(rng.choice(list(allowed)))
            assert m.advance(t)
            if m.ended:
                assert t == eos
                break
            data += compiled.vocabulary.tokens[t]
        assert m.is_accepting(), (budget, data)
        jsonschema.validate(json.loads(data), schema)

    walk()


# ---- generate() with a stand-in model ----------------------------------------------------------


class RandomModel:
    """Enough of a transformers model for structgen.generate: random logits, greedy."""

    def __init__(self, vocab_size: int, seed: int = 0):
        self.config = SimpleNamespace(vocab_size=vocab_size)
        self.generation_config = SimpleNamespace(max_new_tokens=None, pad_token_id=None)
        self.device = torch.device("cpu")
        self.gen = torch.Generator().manual_seed(seed)
        self.calls = []

    def generate(
        self,
        input_ids,
        attention_mask=None,
        logits_processor=(),
        max_new_tokens=20,
        pad_token_id=0,
        eos_token_id=None,
        num_return_sequences=1,
        **kw,
    ):
        self.calls.append(
            SimpleNamespace(input_ids=input_ids, kwargs=kw, max_new_tokens=max_new_tokens)
        )
        eos = 2 if eos_token_id is None else eos_token_id
        ids = input_ids.repeat_interleave(num_return_sequences, 0)
        done = torch.zeros(ids.shape[0], dtype=torch.bool)
        for _ in range(max_new_tokens):
            scores = torch.randn(ids.shape[0], self.config.vocab_size, generator=self.gen)
            for p in logits_processor:
                scores = p(ids, scores)
            nxt = scores.argmax(-1)
            nxt[done] = pad_token_id
            ids = torch.cat([ids, nxt[:, None]], 1)
            done |= nxt == eos
            if bool(done.all()):
                break
        return ids


class Person(BaseModel):
    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[a-z]+@[a-z]+\.[a-z]{2,3}$")
    age: int = Field(ge=0, le=120)


@pytest.fixture(scope="module")
def tok(tokenizers):
    return tokenizers["smollm2"]


def _model():
    from structgen import assets

    return RandomModel(assets.MODEL_VOCAB_SIZE["smollm2"])


@pytest.mark.parametrize("budget", [None, 45, 60])
def test_typed_results_always_validate_under_a_budget(tok, budget):
    model = _model()
    out_type = Person
    need = (
        structgen.compile(structgen.types.output_spec(Person).spec, tok)
        .matcher()
        .tokens_to_complete()
    )
    budget = budget or int(need)
    assert budget >= need
    for seed in range(3):
        model.gen.manual_seed(seed)
        p = structgen.generate(model, tok, "A person, please.", out_type, max_new_tokens=budget)
        assert isinstance(p, Person)
    assert model.calls[-1].max_new_tokens == budget


def test_other_output_types(tok):
    model = _model()
    schema = BUDGET_SCHEMAS["choice"]
    v = structgen.generate(model, tok, "x", schema, max_new_tokens=40)
    jsonschema.validate(v, schema)
    assert structgen.generate(model, tok, "x", Literal["red", "blue"], max_new_tokens=5) in (
        "red",
        "blue",
    )
    s = structgen.generate(
        model, tok, "x", structgen.Regex(r"[0-9]{3}-[a-z]{2}"), max_new_tokens=12
    )
    assert isinstance(s, str) and len(s) == 6
    nums = structgen.generate(model, tok, "x", list[int], max_new_tokens=30)
    assert isinstance(nums, list) and all(isinstance(n, int) for n in nums)


def test_batch_with_mixed_output_types_and_copies(tok):
    model = _model()
    types = [Person, structgen.Regex(r"(yes|no)"), BUDGET_SCHEMAS["tree"]]
    res = structgen.generate(
        model, tok, ["a", "a", "b"], types, max_new_tokens=50, num_return_sequences=2
    )
    assert len(res) == 3 and all(len(r) == 2 for r in res)
    assert all(isinstance(p, Person) for p in res[0])
    assert all(s in ("yes", "no") for s in res[1])
    for v in res[2]:
        jsonschema.validate(v, BUDGET_SCHEMAS["tree"])
    call = model.calls[-1]
    assert call.input_ids.shape[0] == 3
    assert (call.input_ids[:, 0] == tok.pad_token_id).any() or len(
        {tuple(r) for r in call.input_ids.tolist()}
    ) <= 3
    with pytest.raises(ValueError, match="one output type per prompt"):
        structgen.generate(model, tok, ["a", "b"], [Person], max_new_tokens=50)


def test_budget_too_small_is_refused_before_generating(tok):
    model = _model()
    with pytest.raises(structgen.IncompleteOutputError, match="max_new_tokens=5 is too small") as e:
        structgen.generate(model, tok, "x", Person, max_new_tokens=5)
    assert e.value.text == "" and not model.calls


def test_without_steering_a_cut_off_output_raises_with_its_text(tok):
    model = _model()
    with pytest.raises(
        structgen.IncompleteOutputError, match="incomplete after max_new_tokens=8"
    ) as e:
        structgen.generate(model, tok, "x", Person, max_new_tokens=8, steer=False)
    assert e.value.text and len(model.calls) == 1
    assert e.value.text.lstrip().startswith("{")


def test_prompts_chat_template_and_plain(tok):
    model = _model()
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    structgen.generate(model, tok, msgs, structgen.Regex("ok"), max_new_tokens=3)
    text = tok.decode(model.calls[-1].input_ids[0])
    assert "Be brief." in text and "Hi there" in text and text.rstrip().endswith("assistant")
    structgen.generate(model, tok, "Hello", structgen.Regex("ok"), max_new_tokens=3)
    text = tok.decode(model.calls[-1].input_ids[0])
    assert "<|im_start|>user\nHello<|im_end|>" in text
    saved = tok.chat_template
    try:
        tok.chat_template = None
        structgen.generate(model, tok, "Hello", structgen.Regex("ok"), max_new_tokens=3)
        assert tok.decode(model.calls[-1].input_ids[0]) == "Hello"
        with pytest.raises(ValueError, match="no chat template"):
            structgen.generate(model, tok, msgs, structgen.Regex("ok"), max_new_tokens=3)
    finally:
        tok.chat_template = saved


def test_budget_from_a_generation_config(tok):
    model = _model()
    cfg = SimpleNamespace(max_new_tokens=7, pad_token_id=None)
    structgen.generate(model, tok, "x", structgen.Regex("[a-z]{3}"), generation_config=cfg)
    assert model.calls[-1].max_new_tokens == 7
    model.generation_config.max_new_tokens = 9
    structgen.generate(model, tok, "x", structgen.Regex("[a-z]{3}"))
    assert model.calls[-1].max_new_tokens == 9
    with pytest.raises(structgen.IncompleteOutputError, match="too small"):
        structgen.generate(model, tok, "x", structgen.Regex("[a-z]{30}"), generation_config=cfg)
