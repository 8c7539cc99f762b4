"""Budgets counted in tokens of the tokenizer, not in bytes.

* the count: ``Matcher.tokens_to_complete()`` is the length of a real token sequence
  (``completion_tokens()``) that the matcher accepts and that ends complete (property
  tests over real tokenizers, from random states), and steering realises it: with that
  many tokens left, every walk through ``mask_within`` ends complete;
* ``generate``: a budget that fits the shortest output in tokens but not in bytes is
  accepted and the output is complete; one token less is refused before generating;
* the processor under a tight budget lets the model's best-scored token through when a
  completion fits after it in tokens, even where the byte count would hold it back;
* ``structgen.generate_kwargs`` gives the processor and ``model.generate()`` one budget,
  and ``LogitsProcessor.decode`` refuses a row cut off mid-value;
* end to end on SmolLM2: a ``Literal`` in 8 tokens, a schema in fewer tokens than its
  shortest output has bytes, the helper's kwargs in ``model.generate()``.
"""

from __future__ import annotations

import json
import logging
import random
from types import SimpleNamespace
from typing import Literal

import jsonschema
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_generate_typed import BUDGET_SCHEMAS, RandomModel
from transformers import GenerationConfig

import structgen
from structgen import JsonSchema, Regex, assets

SENTIMENT = {"enum": ["positive", "negative", "neutral"]}
TICKET = {
    "type": "object",
    "properties": {
        "priority": {"enum": ["low", "medium", "high"]},
        "status": {"enum": ["open", "closed"]},
        "assignee": {"type": "string"},
    },
    "required": ["priority", "status", "assignee"],
}
SPECS = {
    "sentiment": JsonSchema(SENTIMENT),
    "ticket": JsonSchema(TICKET),
    "iso_date": Regex(r"(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"),
    "words": Regex(r"(alpha|beta|gamma)( (alpha|beta|gamma)){2,4}"),
    "long_string": JsonSchema({"type": "string", "minLength": 30}),
    **{name: JsonSchema(s) for name, s in BUDGET_SCHEMAS.items()},
}


def _bytes_of(compiled, tokens) -> bytes:
    return b"".join(compiled.vocabulary.tokens[t] for t in tokens)


def _shortest_bytes(compiled) -> int:
    """The length in bytes of the shortest output (what the count was before)."""
    return len(_bytes_of(compiled, compiled.matcher().completion_tokens()))


# ---- the count is realised ---------------------------------------------------------------------


@pytest.mark.parametrize("tok_name", ["smollm2", "llama3", "llama2", "gpt2"])
@pytest.mark.parametrize("spec_name", sorted(SPECS))
def test_token_count_is_a_sequence_the_matcher_accepts(tokenizers, tok_name, spec_name):
    """From random states: the counted tokens are accepted one by one, end complete, and
    are as many as ``tokens_to_complete()`` says."""
    compiled = structgen.compile(SPECS[spec_name], tokenizers[tok_name])

    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, 12), st.randoms(use_true_random=False))
    def walk(steps, rng):
        m = compiled.matcher()
        for _ in range(steps):
            ids = [t for t in m.allowed_token_ids().tolist() if t not in compiled.eos_token_ids]
            if not ids:
                break
            assert m.advance(rng.choice(ids))
        need = m.tokens_to_complete()
        plan = m.completion_tokens()
        assert plan is not None and len(plan) == need
        probe = m.fork()
        for t in plan:
            assert probe.mask()[t] and probe.advance(t), (t, plan)
        assert probe.is_accepting()

    walk()


@pytest.mark.parametrize("tok_name", ["smollm2", "llama2"])
@pytest.mark.parametrize("spec_name", ["sentiment", "ticket", "words", "person"])
def test_steering_realises_the_token_count(tokenizers, tok_name, spec_name):
    """With exactly ``tokens_to_complete()`` tokens left, any walk through the tokens that
    ``mask_within`` allows ends complete (the count is below the shortest output's bytes)."""
    compiled = structgen.compile(SPECS[spec_name], tokenizers[tok_name])
    need = int(compiled.matcher().tokens_to_complete())
    assert need < _shortest_bytes(compiled)

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.randoms(use_true_random=False))
    def walk(rng):
        m = compiled.matcher()
        for left in range(need, 0, -1):
            allowed = m.mask_within(left).nonzero()[0].tolist()
            assert allowed
            assert m.advance(rng.choice(allowed))
            if m.is_ended():
                break
        assert m.is_accepting()

    walk()


# ---- generate: the check before generating -----------------------------------------------------


@pytest.fixture(scope="module")
def tok(tokenizers):
    return tokenizers["smollm2"]


def _model(seed: int = 0) -> RandomModel:
    return RandomModel(assets.MODEL_VOCAB_SIZE["smollm2"], seed)


@pytest.mark.parametrize("schema", [SENTIMENT, TICKET], ids=["sentiment", "ticket"])
def test_a_budget_that_fits_in_tokens_is_accepted_and_one_less_refused(tok, schema):
    compiled = structgen.compile(JsonSchema(schema), tok)
    need = int(compiled.matcher().tokens_to_complete())
    assert need < _shortest_bytes(compiled)
    model = _model()
    with pytest.raises(structgen.IncompleteOutputError, match=f"takes {need} tokens") as e:
        structgen.generate(model, tok, "x", schema, max_new_tokens=need - 1)
    assert e.value.text == "" and not model.calls
    for seed in range(4):
        model.gen.manual_seed(seed)
        value = structgen.generate(model, tok, "x", schema, max_new_tokens=need)
        jsonschema.validate(value, schema)
    assert model.calls[-1].max_new_tokens == need


def test_literal_fits_in_eight_tokens_with_a_stand_in_model(tok):
    out = structgen.generate(
        _model(), tok, "x", Literal["positive", "negative", "neutral"], max_new_tokens=8
    )
    assert out in ("positive", "negative", "neutral")


# ---- the processor under a tight budget ---------------------------------------------------------


def _byte_model_scores(compiled, width: int) -> torch.Tensor:
    """Scores of a model that prefers short tokens (a quote before a word, a letter
    before a syllable): the byte count would hold its favourites back."""
    toks = compiled.vocabulary.tokens
    s = torch.full((width,), -100.0)
    for i, b in enumerate(toks[:width]):
        if b:
            s[i] = -float(len(b))
    return s


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_processor_lets_the_best_token_through_when_it_fits_in_tokens(tok, dtype):
    compiled = structgen.compile(JsonSchema(SENTIMENT), tok)
    need = int(compiled.matcher().tokens_to_complete())
    width = assets.MODEL_VOCAB_SIZE["smollm2"]
    scores = _byte_model_scores(compiled, width)
    quote = tok.convert_tokens_to_ids('"')
    proc = structgen.LogitsProcessor(compiled, max_new_tokens=need, margin=0)
    ids = torch.tensor([[1]])
    for _ in range(need):
        out = proc(ids, scores[None].to(dtype))
        assert out.dtype == dtype
        ids = torch.cat([ids, out.argmax(-1)[:, None]], 1)
    row = ids[0, 1:].tolist()
    # the favourite first token, a lone quote, leaves 8 bytes but 2 tokens to write
    assert row[0] == quote
    text = proc.decode(ids, prompt_length=1)[0]
    assert json.loads(text) in SENTIMENT["enum"]


# ---- generate_kwargs and decode -----------------------------------------------------------------


def test_generate_kwargs_give_one_budget_to_processor_and_generate(tok):
    compiled = structgen.compile(JsonSchema(TICKET), tok)
    need = int(compiled.matcher().tokens_to_complete())
    mine = SimpleNamespace(calls=0)

    def count(input_ids, scores):
        mine.calls += 1
        return scores

    kwargs = structgen.generate_kwargs(compiled, max_new_tokens=need + 2, logits_processor=[count])
    assert kwargs["max_new_tokens"] == need + 2
    proc = kwargs["logits_processor"][-1]
    assert isinstance(proc, structgen.LogitsProcessor) and proc.max_new_tokens == need + 2
    model = _model()
    for seed in range(3):
        model.gen.manual_seed(seed)
        enc = {"input_ids": torch.tensor([[1, 2, 3]] * 2)}
        out = model.generate(**enc, **kwargs)
        assert out.shape[1] - 3 <= need + 2
        for text in proc.decode(out):
            jsonschema.validate(json.loads(text), TICKET)
    assert mine.calls > 0
    cfg = GenerationConfig(max_new_tokens=need)
    from_cfg = structgen.generate_kwargs(compiled, generation_config=cfg)
    assert from_cfg["max_new_tokens"] == from_cfg["logits_processor"][-1].max_new_tokens == need
    with pytest.raises(structgen.IncompleteOutputError, match=f"takes {need} tokens"):
        structgen.generate_kwargs(compiled, max_new_tokens=need - 1)
    with pytest.raises(ValueError, match="needs the token budget"):
        structgen.generate_kwargs(compiled)


def test_decode_refuses_a_row_cut_off_without_a_budget(tok, caplog):
    compiled = structgen.compile(JsonSchema(TICKET), tok)
    proc = structgen.LogitsProcessor(compiled)  # no budget: nothing closes the text
    model = _model()
    out = model.generate(torch.tensor([[1, 2]]), logits_processor=[proc], max_new_tokens=6)
    with pytest.raises(structgen.IncompleteOutputError, match="row 0 is incomplete") as e:
        proc.decode(out)
    assert e.value.text.lstrip().startswith("{") and e.value.index == 0
    with caplog.at_level(logging.WARNING, logger="structgen"):
        texts = proc.decode(out, errors="warn")
    assert texts == [e.value.text]
    assert any("row 0 is incomplete" in r.getMessage() for r in caplog.records)
    # a complete text followed by a token the constraint never allowed is not complete
    done = compiled.matcher().completion_tokens()
    row = [1, 2, *done]
    assert proc.decode([row], prompt_length=2)[0].encode() == _bytes_of(compiled, done)
    x = tok.convert_tokens_to_ids("x")
    with pytest.raises(structgen.IncompleteOutputError, match=f"token {x} after"):
        proc.decode([[*row, x]], prompt_length=2)


# ---- end to end on SmolLM2 ----------------------------------------------------------------------

REVIEWS = [
    "Classify the sentiment of this review: 'I love this phone, the battery lasts for days!'",
    "Classify the sentiment of this review: 'Terrible service, I will never order again.'",
]


def test_smollm2_literal_in_eight_tokens(smollm2):
    model, tokenizer = smollm2
    labels = ("positive", "negative", "neutral")
    out = structgen.generate(model, tokenizer, REVIEWS, Literal[labels], max_new_tokens=8)
    assert all(v in labels for v in out), out


def test_smollm2_schema_within_fewer_tokens_than_bytes(smollm2):
    """Greedy, batched, with a budget a few tokens over the token count and well under the
    shortest output's bytes: every output is complete and valid."""
    model, tokenizer = smollm2
    compiled = structgen.compile(JsonSchema(TICKET), tokenizer)
    need = int(compiled.matcher().tokens_to_complete())
    budget = need + 3
    assert budget < _shortest_bytes(compiled)
    prompts = [
        "File a ticket: the login page is down for every customer. Assign it to Dana.",
        "File a ticket: a typo on the pricing page, already fixed by Sam.",
    ]
    out = structgen.generate(model, tokenizer, prompts, TICKET, max_new_tokens=budget)
    for v in out:
        jsonschema.validate(v, TICKET)
    kwargs = structgen.generate_kwargs(compiled, max_new_tokens=budget)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompts[0]}], tokenize=False, add_generation_prompt=True
    )
    enc = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        seqs = model.generate(**enc, **kwargs, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert seqs.shape[1] - enc["input_ids"].shape[1] <= budget
    (value,) = kwargs["logits_processor"][-1].decode(seqs)
    jsonschema.validate(json.loads(value), TICKET)


def test_random_walks_stay_valid_under_tight_token_budgets(tok):
    """Sampling stand-in: many seeds at budgets from the token count up, mixed in one
    batch with copies per prompt."""
    compiled = structgen.compile(JsonSchema(BUDGET_SCHEMAS["person"]), tok)
    need = int(compiled.matcher().tokens_to_complete())
    assert need < _shortest_bytes(compiled)
    rng = random.Random(0)
    model = _model()
    for _ in range(3):
        budget = need + rng.randrange(4)
        model.gen.manual_seed(rng.randrange(1000))
        res = structgen.generate(
            model,
            tok,
            ["a", "b"],
            BUDGET_SCHEMAS["person"],
            max_new_tokens=budget,
            num_return_sequences=2,
        )
        for pair in res:
            for v in pair:
                jsonschema.validate(v, BUDGET_SCHEMAS["person"])


def test_steering_never_opens_what_cannot_close_in_time(tok):
    """Far from the end of the budget (more than ``margin`` over the shortest output), a
    token that opens an item longer than the tokens left must still be masked: every
    output is complete."""
    field = "field_number_{}_with_a_long_name"
    item = {
        "type": "object",
        "properties": {field.format(i): {"type": "integer"} for i in range(8)},
        "required": [field.format(i) for i in range(8)],
    }
    schema = {"type": "array", "items": item}
    compiled = structgen.compile(JsonSchema(schema), tok)
    probe = compiled.matcher()
    toks = compiled.vocabulary.tokens
    assert probe.advance(toks.index(b"[")) and probe.advance(toks.index(b"{"))
    assert probe.tokens_to_complete() > 60 - 2  # an item opened in 2 tokens cannot close
    for seed in range(6):
        value = structgen.generate(_model(seed), tok, "x", schema, max_new_tokens=60)
        jsonschema.validate(value, schema)
