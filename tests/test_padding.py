"""Tokenizers without a pad token (Llama 2, Llama 3, GPT-2) in generate(), @function and
.map(): prompts are left-padded with an attention mask, and the tokenizer is not modified."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

import structgen

torch = pytest.importorskip("torch")


class Pair(BaseModel):
    a: int = Field(ge=0, le=9)
    b: Literal["x", "y"]


class Recorder:
    """A stand-in model with random logits that records the batches it is given."""

    def __init__(self, vocab_size: int, eos: int):
        self.config = SimpleNamespace(vocab_size=vocab_size)
        self.generation_config = SimpleNamespace(max_new_tokens=None, pad_token_id=None)
        self.device = torch.device("cpu")
        self.eos = eos
        self.gen = torch.Generator().manual_seed(0)
        self.calls = []

    def generate(
        self, input_ids, attention_mask, logits_processor, max_new_tokens, pad_token_id, **kw
    ):
        self.calls.append(SimpleNamespace(ids=input_ids, mask=attention_mask, pad=pad_token_id))
        ids = input_ids
        done = torch.zeros(ids.shape[0], dtype=torch.bool)
        for _ in range(max_new_tokens):
            scores = torch.randn(ids.shape[0], self.config.vocab_size, generator=self.gen)
            for p in logits_processor:
                scores = p(ids, scores)
            nxt = scores.argmax(-1)
            nxt[done] = pad_token_id
            ids = torch.cat([ids, nxt[:, None]], 1)
            done |= nxt == self.eos
            if bool(done.all()):
                break
        return ids


WORD = structgen.Regex(r"[a-z]{2,12}")
PROMPTS = ["Two fields, please.", "A much longer prompt than the first one, with more words in it."]


@pytest.mark.parametrize("name", ["llama2", "llama3", "gpt2"])
def test_tokenizers_without_a_pad_token(tokenizers, name):
    tok = tokenizers[name]
    assert tok.pad_token is None
    side = tok.padding_side
    model = Recorder(len(tok), tok.eos_token_id)
    got = structgen.generate(model, tok, PROMPTS, Pair, max_new_tokens=40)
    assert all(isinstance(p, Pair) for p in got)
    call = model.calls[-1]
    assert call.pad == tok.eos_token_id
    # left padding: the short prompt's padding comes first and is masked out
    lengths = [len(tok(p)["input_ids"]) for p in PROMPTS]
    short = lengths.index(min(lengths))
    width = call.ids.shape[1]
    assert call.mask[short].tolist() == [0] * (width - lengths[short]) + [1] * lengths[short]
    assert call.ids[short, : width - lengths[short]].eq(tok.eos_token_id).all()
    assert call.ids[short, width - lengths[short] :].tolist() == tok(PROMPTS[short])["input_ids"]
    # one prompt, and the typed function's .map()
    assert isinstance(structgen.generate(model, tok, PROMPTS[0], Pair, max_new_tokens=40), Pair)

    @structgen.function(model=model, tokenizer=tok, max_new_tokens=40)
    def pair(text: str) -> Pair:
        """{text}"""

    assert isinstance(pair(text="x"), Pair)
    assert all(isinstance(p, Pair) for p in pair.map([{"text": p} for p in PROMPTS]))
    # the caller's tokenizer is left as it was
    assert tok.pad_token is None and tok.padding_side == side


def _without_pad(tok):
    bare = copy.deepcopy(tok)
    bare.pad_token = None
    assert bare.pad_token is None and tok.pad_token is not None
    return bare


@pytest.mark.model
def test_smollm2_without_a_pad_token_batches_like_single_prompts(smollm2):
    model, tok = smollm2
    bare = _without_pad(tok)
    prompts = [
        "What is the capital of France? Answer in lower case.",
        "Name an animal that lives in the sea, in lower case, and say why you like it.",
    ]
    single = [structgen.generate(model, bare, p, WORD, max_new_tokens=6) for p in prompts]
    batched = structgen.generate(model, bare, prompts, WORD, max_new_tokens=6)
    assert batched == single  # greedy: padding on the left changes nothing

    @structgen.function(model=model, tokenizer=bare, max_new_tokens=6)
    def answer(question: str) -> Annotated[str, WORD]:
        """{question}"""

    assert answer.map([{"question": p} for p in prompts]) == single
    assert bare.pad_token is None


@pytest.mark.model
def test_llama2_tokenizer_with_the_smollm2_model(smollm2, tokenizers):
    model, _ = smollm2
    tok = tokenizers["llama2"]  # 32,000 ids: all within the model's 49,152 logits
    got = structgen.generate(model, tok, PROMPTS, Literal["yes", "no"], max_new_tokens=4)
    assert all(a in ("yes", "no") for a in got)
    assert tok.pad_token is None
