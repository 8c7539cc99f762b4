"""A pydantic model's own validators: an output they reject raises OutputValidationError
carrying the raw text; retries=N samples the rejected rows again (seeded) first."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

import structgen

torch = pytest.importorskip("torch")


class Odd(BaseModel):
    n: int = Field(ge=0, le=9)

    @field_validator("n")
    @classmethod
    def odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"{v} is even")
        return v


class Never(BaseModel):
    word: str = Field(max_length=6)

    @model_validator(mode="after")
    def never(self) -> Never:
        raise ValueError("rejected by the model validator")


class GlobalRandom:
    """A stand-in model whose logits come from torch's global random generator (as sampling
    does), recording the keyword arguments of every call."""

    def __init__(self, vocab_size: int, eos: int):
        self.config = SimpleNamespace(vocab_size=vocab_size)
        self.generation_config = SimpleNamespace(max_new_tokens=None, pad_token_id=None)
        self.device = torch.device("cpu")
        self.eos = eos
        self.calls = []

    def generate(self, input_ids, attention_mask, logits_processor, max_new_tokens, **kw):
        self.calls.append(SimpleNamespace(rows=input_ids.shape[0], **kw))
        ids = input_ids.repeat_interleave(kw.get("num_return_sequences", 1), 0)
        done = torch.zeros(ids.shape[0], dtype=torch.bool)
        for _ in range(max_new_tokens):
            scores = torch.randn(ids.shape[0], self.config.vocab_size)
            for p in logits_processor:
                scores = p(ids, scores)
            nxt = scores.argmax(-1)
            nxt[done] = kw["pad_token_id"]
            ids = torch.cat([ids, nxt[:, None]], 1)
            done |= nxt == self.eos
            if bool(done.all()):
                break
        return ids


@pytest.fixture
def tok(tokenizers):
    return tokenizers["smollm2"]


def test_rejected_output_carries_its_text(tok):
    model = GlobalRandom(len(tok), tok.eos_token_id)
    with pytest.raises(structgen.OutputValidationError, match="Never's validation rejects") as e:
        structgen.generate(model, tok, "A word.", Never, max_new_tokens=20)
    assert isinstance(e.value.__cause__, ValidationError)
    assert set(json.loads(e.value.text)) == {"word"}  # the raw text, as generated
    assert e.value.index is None and len(model.calls) == 1
    assert isinstance(e.value, structgen.StructgenError)


def test_retries_sample_the_rejected_rows_again_seeded(tok):
    model = GlobalRandom(len(tok), tok.eos_token_id)
    state = torch.get_rng_state()
    with pytest.raises(structgen.OutputValidationError, match="after 3 retries") as e:
        structgen.generate(
            model, tok, ["a", "b"], Never, max_new_tokens=20, retries=3, seed=5, do_sample=False
        )
    assert e.value.index == 0
    assert [c.rows for c in model.calls] == [2, 2, 2, 2]
    assert [c.do_sample for c in model.calls] == [False, True, True, True]
    texts = []
    for start in (1, 2):  # whatever the caller's random state, the retries are seeded
        torch.manual_seed(start)
        with pytest.raises(structgen.OutputValidationError) as e:
            structgen.generate(model, tok, "a", Never, max_new_tokens=20, retries=2, seed=9)
        texts.append(e.value.text)
    assert texts[0] == texts[1]
    torch.set_rng_state(state)
    ok = []
    for _ in range(4):  # odd digits come out within a few retries; each prompt keeps its row
        ok += structgen.generate(model, tok, ["x", "y"], Odd, max_new_tokens=12, retries=20)
    assert all(isinstance(o, Odd) and o.n % 2 for o in ok)


def test_retries_must_be_a_count(tok):
    model = GlobalRandom(len(tok), tok.eos_token_id)
    with pytest.raises(ValueError, match="retries"):
        structgen.generate(model, tok, "a", Odd, max_new_tokens=12, retries=-1)


def test_function_passes_retries_on(tok):
    model = GlobalRandom(len(tok), tok.eos_token_id)

    @structgen.function(model=model, tokenizer=tok, max_new_tokens=12, retries=20)
    def odd(text: str) -> Odd:
        """An odd digit for {text}."""

    assert all(o.n % 2 for o in odd.map([{"text": "a"}, {"text": "b"}]))


@pytest.mark.model
def test_validator_rejection_with_the_real_model(smollm2):
    model, tok = smollm2
    before = torch.get_rng_state()
    texts = []
    for _ in range(2):
        with pytest.raises(structgen.OutputValidationError) as e:
            structgen.generate(model, tok, "Say a short word.", Never, max_new_tokens=12, retries=1)
        texts.append(e.value.text)
        assert "word" in json.loads(e.value.text)
    assert texts[0] == texts[1]  # seeded retries: the same samples each time
    assert torch.equal(torch.get_rng_state(), before)
